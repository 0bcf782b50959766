package phonenum

import "regexp/syntax"

// Prefixes whose language is not prefix-free (KR's national prefix
// "0(8(?:[1-46-8]|5\d\d))?", HK's IDD) or whose match is rewritten by a transform
// rule (BR, JP, AR, the NANPA islands) need the exact match Go's regexp finds:
// leftmost-first, with its capture groups. backtrack finds it as regexp's own
// backtracker does (alternatives in priority order, each (pc, position) tried
// once), anchored at the start, on the digits only. No allocation: the visited
// set and the captures live on the stack.

const (
	maxBacktrackBits = 64 * 256 // visited (pc, position) pairs
	maxCaps          = 16
)

type backtracker struct {
	prog    *syntax.Prog
	input   []byte
	cap     [maxCaps]int
	visited [maxBacktrackBits / 64]uint64
}

// matchPrefix runs prog anchored at the start of input. It returns the capture
// positions (cap[0], cap[1] the whole match; -1 for a group that did not take
// part) and whether it matched; ok is false when the program is too large for
// the fixed-size state (the caller asks libphonenumber).
func matchPrefix(prog *syntax.Prog, input []byte, caps *[maxCaps]int) (matched, ok bool) {
	if prog.NumCap > maxCaps || len(prog.Inst)*(len(input)+1) > maxBacktrackBits {
		return false, false
	}
	var b backtracker
	b.prog, b.input = prog, input
	for i := range b.cap {
		b.cap[i] = -1
	}
	b.cap[0] = 0
	if !b.try(uint32(prog.Start), 0) {
		return false, true
	}
	*caps = b.cap
	return true, true
}

func (b *backtracker) try(pc uint32, pos int) bool {
	for {
		bit := int(pc)*(len(b.input)+1) + pos
		if b.visited[bit/64]&(1<<(bit%64)) != 0 {
			return false // tried before with higher priority and failed
		}
		b.visited[bit/64] |= 1 << (bit % 64)
		in := &b.prog.Inst[pc]
		switch in.Op {
		case syntax.InstMatch:
			b.cap[1] = pos
			return true
		case syntax.InstAlt, syntax.InstAltMatch:
			if b.try(in.Out, pos) {
				return true
			}
			pc = in.Arg
		case syntax.InstCapture:
			if int(in.Arg) >= maxCaps {
				return false
			}
			old := b.cap[in.Arg]
			b.cap[in.Arg] = pos
			if b.try(in.Out, pos) {
				return true
			}
			b.cap[in.Arg] = old
			return false
		case syntax.InstNop:
			pc = in.Out
		case syntax.InstEmptyWidth:
			// Only $ (end of text) is compiled; compileDFA refused the others.
			if syntax.EmptyOp(in.Arg) != syntax.EmptyEndText || pos != len(b.input) {
				return false
			}
			pc = in.Out
		case syntax.InstFail:
			return false
		default: // rune instructions
			if pos >= len(b.input) || !in.MatchRune(rune(b.input[pos])) {
				return false
			}
			pc, pos = in.Out, pos+1
		}
	}
}

// expand appends template with $n replaced by capture group n of input, as
// regexp.Expand does ($$ is $; a name is the longest run of letters, digits and
// underscores, or {name}; a group that did not match or does not exist is empty).
// ok is false for a named group: the metadata's transform rules have none.
func expand(dst []byte, template string, input []byte, caps *[maxCaps]int, ncap int) ([]byte, bool) {
	for i := 0; i < len(template); {
		c := template[i]
		if c != '$' || i+1 == len(template) {
			dst = append(dst, c)
			i++
			continue
		}
		if template[i+1] == '$' {
			dst = append(dst, '$')
			i += 2
			continue
		}
		var name string
		if template[i+1] == '{' {
			end := -1
			for j := i + 2; j < len(template); j++ {
				if template[j] == '}' {
					end = j
					break
				}
			}
			if end < 0 {
				dst = append(dst, c) // regexp.Expand: a malformed ${ is literal
				i++
				continue
			}
			name, i = template[i+2:end], end+1
		} else {
			j := i + 1
			for j < len(template) && (template[j] == '_' || template[j] >= '0' && template[j] <= '9' || template[j] >= 'a' && template[j] <= 'z' || template[j] >= 'A' && template[j] <= 'Z') {
				j++
			}
			if j == i+1 {
				dst = append(dst, c)
				i++
				continue
			}
			name, i = template[i+1:j], j
		}
		if name == "" {
			return dst, false
		}
		n := 0
		for k := 0; k < len(name); k++ {
			if name[k] < '0' || name[k] > '9' || n > 1000 {
				return dst, false
			}
			n = n*10 + int(name[k]-'0')
		}
		if 2*n+1 < ncap && caps[2*n] >= 0 && caps[2*n+1] >= 0 {
			dst = append(dst, input[caps[2*n]:caps[2*n+1]]...)
		}
	}
	return dst, true
}
