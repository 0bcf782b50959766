package chunking

// Record is one accepted row, normalised: the phone in the form its vendor expects
// and the optional columns that map onto the vendor's fields.
type Record struct {
	// Line is the 1-based line of the input where the row starts.
	Line       int64
	Phone      string
	Name       string
	CustomerID string
	// Attach is pass-through data returned by the vendor with the call result.
	Attach  string
	Company string
	// Params are call parameters (FlashAI script variables).
	Params []string
}

// Range is a half-open interval [Lo, Hi) of a part's records: one vendor call.
type Range struct {
	Lo, Hi int
}

// Len is the number of records in r.
func (r Range) Len() int { return r.Hi - r.Lo }

// Halves splits r for bisection; r must hold at least two records.
func (r Range) Halves() (Range, Range) {
	mid := r.Lo + r.Len()/2
	return Range{r.Lo, mid}, Range{mid, r.Hi}
}

// Calls cuts each interval of gaps into calls of at most size records, in order.
func Calls(gaps []Range, size int) []Range {
	var out []Range
	for _, g := range gaps {
		for lo := g.Lo; lo < g.Hi; lo += size {
			out = append(out, Range{lo, min(lo+size, g.Hi)})
		}
	}
	return out
}

// Remaining returns the parts of [0, n) not covered by done, in order. done may
// overlap and come in any order (bisection leaves sub-ranges of earlier calls).
func Remaining(n int, done []Range) []Range {
	covered := make([]bool, n)
	for _, d := range done {
		for i := max(d.Lo, 0); i < min(d.Hi, n); i++ {
			covered[i] = true
		}
	}
	var out []Range
	for i := 0; i < n; {
		if covered[i] {
			i++
			continue
		}
		j := i
		for j < n && !covered[j] {
			j++
		}
		out = append(out, Range{i, j})
		i = j
	}
	return out
}
