package phonenum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"regexp/syntax"
	"slices"
)

// dfa is a deterministic automaton over the digits 0-9 that runs several of the
// metadata's patterns at once: after the last digit, bit p of accept[state] says
// whether pattern p matched. A "prefix" pattern matches when any prefix of the
// input is in its language (a regexp anchored at the start only); once it has
// matched it stays matched. State 0 is dead: nothing can match any more.
type dfa struct {
	next   []int32 // next[state*10+digit]
	accept []uint64
}

const (
	startState = 1
	// maxStates bounds one automaton; the metadata's largest regions compile to a
	// few thousand states, so hitting this means the metadata changed shape.
	maxStates = 1 << 16
)

var errTooManyStates = errors.New("automaton too large")

// pattern is one regular expression of the metadata to compile.
type pattern struct {
	re     string
	prefix bool // match any prefix of the input (anchored at the start only)
}

// nfaState is a compiled program's instruction index, tagged by its pattern.
type nfaState struct {
	p  int
	pc uint32
}

// compileDFA builds one automaton for up to 64 patterns by subset construction over
// the programs regexp/syntax compiles them to. $ (end of text, in some national
// prefixes) accepts only where the input ends; other empty-width assertions (^,
// \b) are refused: the metadata has none.
func compileDFA(pats []pattern) (*dfa, error) {
	if len(pats) > 64 {
		return nil, fmt.Errorf("%d patterns: at most 64 per automaton", len(pats))
	}
	progs := make([]*syntax.Prog, len(pats))
	for i, p := range pats {
		re, err := syntax.Parse(p.re, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p.re, err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p.re, err)
		}
		for _, in := range prog.Inst {
			if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg) != syntax.EmptyEndText {
				return nil, fmt.Errorf("pattern %q: empty-width assertions other than $ are not supported", p.re)
			}
		}
		progs[i] = prog
	}

	// A DFA state is the sorted set of NFA states waiting on a digit, the prefix
	// patterns that have already matched (they stay matched) and the full-match
	// patterns that accept here.
	type dstate struct {
		set    []nfaState
		sticky uint64
		acc    uint64
	}
	var kb []byte
	key := func(s dstate) string {
		kb = binary.LittleEndian.AppendUint64(kb[:0], s.sticky)
		kb = binary.LittleEndian.AppendUint64(kb, s.acc)
		for _, n := range s.set {
			kb = append(kb, byte(n.p))
			kb = binary.LittleEndian.AppendUint32(kb, n.pc)
		}
		return string(kb)
	}
	var prefixMask uint64
	for p := range pats {
		if pats[p].prefix {
			prefixMask |= 1 << p
		}
	}
	// closure follows the empty moves from seeds.
	closure := func(seeds []nfaState, sticky uint64) dstate {
		var out []nfaState
		seen := map[nfaState]bool{}
		stack := slices.Clone(seeds)
		// matched: patterns that accept here; atEnd: patterns that accept here
		// only if the input ends here (through a $).
		var matched, atEnd uint64
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[n] || sticky&(1<<n.p) != 0 {
				continue
			}
			seen[n] = true
			in := &progs[n.p].Inst[n.pc]
			switch in.Op {
			case syntax.InstAlt, syntax.InstAltMatch:
				stack = append(stack, nfaState{n.p, in.Out}, nfaState{n.p, in.Arg})
			case syntax.InstCapture, syntax.InstNop:
				stack = append(stack, nfaState{n.p, in.Out})
			case syntax.InstEmptyWidth: // $: nothing may follow
				if reachesMatch(progs[n.p], in.Out) {
					atEnd |= 1 << n.p
				}
			case syntax.InstMatch:
				matched |= 1 << n.p
			case syntax.InstFail:
			default: // rune instructions
				out = append(out, n)
			}
		}
		sticky |= matched & prefixMask
		// A prefix pattern that matched needs no more threads.
		out = slices.DeleteFunc(out, func(n nfaState) bool { return sticky&(1<<n.p) != 0 })
		slices.SortFunc(out, func(a, b nfaState) int {
			if a.p != b.p {
				return a.p - b.p
			}
			return int(a.pc) - int(b.pc)
		})
		out = slices.Compact(out)
		// A match through $ counts only where the input ends: never sticky.
		return dstate{set: out, sticky: sticky, acc: matched&^prefixMask | atEnd}
	}

	d := &dfa{next: make([]int32, 10), accept: make([]uint64, 1)} // state 0: dead
	ids := map[string]int32{}
	var states []dstate
	add := func(s dstate) (int32, error) {
		if len(s.set) == 0 && s.sticky == 0 && s.acc == 0 {
			return 0, nil
		}
		k := key(s)
		if id, ok := ids[k]; ok {
			return id, nil
		}
		id := int32(len(states) + 1)
		if id >= maxStates {
			return 0, errTooManyStates
		}
		ids[k] = id
		states = append(states, s)
		d.next = append(d.next, make([]int32, 10)...)
		d.accept = append(d.accept, s.sticky|s.acc)
		return id, nil
	}
	seeds := make([]nfaState, len(pats))
	for p, prog := range progs {
		seeds[p] = nfaState{p, uint32(prog.Start)}
	}
	if _, err := add(closure(seeds, 0)); err != nil {
		return nil, err
	}
	if len(states) == 0 {
		// Nothing can ever match: a start state that leads nowhere.
		d.next = append(d.next, make([]int32, 10)...)
		d.accept = append(d.accept, 0)
		return d, nil
	}
	for i := 0; i < len(states); i++ {
		s := states[i]
		for digit := range 10 {
			var seeds []nfaState
			for _, n := range s.set {
				in := &progs[n.p].Inst[n.pc]
				if in.MatchRune(rune('0' + digit)) {
					seeds = append(seeds, nfaState{n.p, in.Out})
				}
			}
			id, err := add(closure(seeds, s.sticky))
			if err != nil {
				return nil, err
			}
			d.next[(i+1)*10+digit] = id
		}
	}
	return d, nil
}

// run walks digits (ASCII '0'-'9') and returns the final state.
func (d *dfa) run(digits []byte) int32 {
	s := int32(startState)
	for _, c := range digits {
		s = d.next[int(s)*10+int(c-'0')]
		if s == 0 {
			return 0
		}
	}
	return s
}

// prefixMatchEnd walks digits with a one-pattern automaton of a full-match
// pattern whose language is prefix-free and returns the length of the one prefix
// of digits in the language, or -1.
func (d *dfa) prefixMatchEnd(digits []byte) int {
	s := int32(startState)
	if d.accept[s]&1 != 0 {
		return 0
	}
	for i, c := range digits {
		s = d.next[int(s)*10+int(c-'0')]
		if s == 0 {
			return -1
		}
		if d.accept[s]&1 != 0 {
			return i + 1
		}
	}
	return -1
}

// prefixFree reports whether no word of pattern 0's language is a proper prefix of
// another: then an anchored match (leftmost-first or any other) has one end.
func (d *dfa) prefixFree() bool {
	for s := 1; s < len(d.accept); s++ {
		if d.accept[s]&1 == 0 {
			continue
		}
		// Any accepting state reachable in one or more steps from s?
		seen := map[int32]bool{}
		stack := []int32{}
		for digit := range 10 {
			stack = append(stack, d.next[s*10+digit])
		}
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if t == 0 || seen[t] {
				continue
			}
			seen[t] = true
			if d.accept[t]&1 != 0 {
				return false
			}
			for digit := range 10 {
				stack = append(stack, d.next[int(t)*10+digit])
			}
		}
	}
	return true
}

// reachesMatch reports whether pc reaches Match without consuming input.
func reachesMatch(prog *syntax.Prog, pc uint32) bool {
	seen := map[uint32]bool{}
	stack := []uint32{pc}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		switch in := &prog.Inst[pc]; in.Op {
		case syntax.InstMatch:
			return true
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Out, in.Arg)
		case syntax.InstCapture, syntax.InstNop, syntax.InstEmptyWidth:
			stack = append(stack, in.Out)
		}
	}
	return false
}
