package results

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// The results of one slice (one vendor task of one part and attempt) are one Redis
// string, written whole by each poll or import, in a compact binary form modelled
// on lifecycle/internal/ledgerstore/codec.go:
//
//	version 1: version byte, 16-byte seal, DEFLATE (RFC 1951) of the body
//	body: uvarint count, then per result: uvarint index delta (from the previous
//	result's index, the first from 0; indexes strictly increase), disposition
//	byte, flags byte (which optional fields follow), then the optional fields:
//	call start (uvarint Unix seconds), answer and hang-up (varint seconds after
//	the call start, or uvarint Unix seconds without one), duration (uvarint
//	seconds), intent tag, intent note, detail (each a uvarint length and bytes).
//
// The seal is the first 16 bytes of SHA-256 over the batch's seal, the slice's
// part, attempt and range, and the compressed body: a result truncated, garbled or
// copied from another slice fails it before anything is inflated. DEFLATE at its
// fastest level takes the vendor's raw notes and repeated tags from ~60 to ~10
// bytes a number (TestCodecSize). A pending number is never stored: no entry is
// pending.
const (
	codecVersion = 1
	sealLen      = 16
)

const (
	fStart = 1 << iota
	fAnswer
	fHangup
	fDuration
	fTag
	fNote
	fDetail
)

// ErrCorrupt means a stored slice failed its check.
var ErrCorrupt = errors.New("corrupt results")

// Encode seals res (sorted by Index, each once) for slice sl of the batch sealed
// with seal.
func Encode(seal string, sl Slice, res []Result) ([]byte, error) {
	body := make([]byte, 0, 16*len(res)+8)
	body = binary.AppendUvarint(body, uint64(len(res)))
	prev := 0
	for i, r := range res {
		if r.Index < prev || (i > 0 && r.Index == prev) || r.Index < 0 {
			return nil, fmt.Errorf("results: index %d out of order", r.Index)
		}
		if !r.Disposition.final() {
			return nil, fmt.Errorf("results: index %d: disposition %q is not final", r.Index, r.Disposition)
		}
		body = binary.AppendUvarint(body, uint64(r.Index-prev))
		prev = r.Index
		body = append(body, byte(r.Disposition))
		var flags byte
		set := func(ok bool, f byte) {
			if ok {
				flags |= f
			}
		}
		set(!r.CallStart.IsZero(), fStart)
		set(!r.Answer.IsZero(), fAnswer)
		set(!r.Hangup.IsZero(), fHangup)
		set(r.DurationS > 0, fDuration)
		set(r.IntentTag != "", fTag)
		set(r.IntentNote != "", fNote)
		set(r.Detail != "", fDetail)
		body = append(body, flags)
		start := r.CallStart.Unix()
		if flags&fStart != 0 {
			body = binary.AppendUvarint(body, uint64(max(start, 0)))
		}
		for _, t := range []struct {
			f byte
			v time.Time
		}{{fAnswer, r.Answer}, {fHangup, r.Hangup}} {
			switch {
			case flags&t.f == 0:
			case flags&fStart != 0:
				body = binary.AppendVarint(body, t.v.Unix()-start)
			default:
				body = binary.AppendUvarint(body, uint64(max(t.v.Unix(), 0)))
			}
		}
		if flags&fDuration != 0 {
			body = binary.AppendUvarint(body, uint64(r.DurationS))
		}
		for _, s := range []struct {
			f byte
			v string
		}{{fTag, r.IntentTag}, {fNote, r.IntentNote}, {fDetail, r.Detail}} {
			if flags&s.f != 0 {
				body = binary.AppendUvarint(body, uint64(len(s.v)))
				body = append(body, s.v...)
			}
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(body)/4 + 1 + sealLen)
	buf.Write(make([]byte, 1+sealLen))
	fw := flaters.Get().(*flate.Writer)
	defer flaters.Put(fw)
	fw.Reset(&buf)
	if _, err := fw.Write(body); err != nil {
		return nil, err
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	out[0] = codecVersion
	sum := sliceSeal(seal, sl, out[1+sealLen:])
	copy(out[1:], sum[:])
	return out, nil
}

var flaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// maxBody bounds an inflated body: 64 MiB is ~4 million results, far past a part.
const maxBody = 64 << 20

// Decode checks and decodes slice sl of the batch sealed with seal.
func Decode(seal string, sl Slice, b []byte) ([]Result, error) {
	if len(b) < 1+sealLen || b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown encoding or truncated", ErrCorrupt)
	}
	packed := b[1+sealLen:]
	if sum := sliceSeal(seal, sl, packed); string(sum[:]) != string(b[1:1+sealLen]) {
		return nil, fmt.Errorf("%w: seal does not match this batch and slice", ErrCorrupt)
	}
	fr := flate.NewReader(bytes.NewReader(packed))
	body, err := io.ReadAll(io.LimitReader(fr, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, fmt.Errorf("%w: body does not inflate", ErrCorrupt)
	}
	res, err := decodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return res, nil
}

func sliceSeal(seal string, sl Slice, body []byte) [sealLen]byte {
	h := sha256.New()
	h.Write([]byte(seal))
	h.Write([]byte{0})
	h.Write([]byte(sl.field()))
	h.Write([]byte{0})
	h.Write(body)
	var out [sealLen]byte
	copy(out[:], h.Sum(nil))
	return out
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errors.New("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("string past the end")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// maxTime bounds decoded times (year 2514) so that garbage can neither overflow
// them nor reach the zero time.
const maxTime = 1 << 34

func decodeBody(b []byte) ([]Result, error) {
	r := &reader{b: b}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(b)) {
		return nil, errors.New("count larger than the data")
	}
	out := make([]Result, 0, n)
	idx := uint64(0)
	for i := uint64(0); i < n && r.err == nil; i++ {
		d := r.uvarint()
		if i > 0 && d == 0 {
			return nil, errors.New("index repeated")
		}
		idx += d
		if idx > 1<<31 {
			return nil, errors.New("index out of range")
		}
		res := Result{Index: int(idx), Disposition: Disposition(r.byte())}
		if r.err == nil && !res.Disposition.final() {
			return nil, fmt.Errorf("result %d: unknown disposition %d", i, res.Disposition)
		}
		flags := r.byte()
		if flags&^(fStart|fAnswer|fHangup|fDuration|fTag|fNote|fDetail) != 0 {
			return nil, fmt.Errorf("result %d: unknown flags", i)
		}
		var start int64
		if flags&fStart != 0 {
			start = int64(min(r.uvarint(), maxTime))
			res.CallStart = time.Unix(start, 0).UTC()
		}
		for _, t := range []struct {
			f   byte
			dst *time.Time
		}{{fAnswer, &res.Answer}, {fHangup, &res.Hangup}} {
			switch {
			case flags&t.f == 0:
			case flags&fStart != 0:
				off := r.varint()
				if off > maxTime || off < -maxTime {
					return nil, fmt.Errorf("result %d: time out of range", i)
				}
				*t.dst = time.Unix(start+off, 0).UTC()
			default:
				*t.dst = time.Unix(int64(min(r.uvarint(), maxTime)), 0).UTC()
			}
		}
		if flags&fDuration != 0 {
			res.DurationS = int(min(r.uvarint(), 1<<31))
		}
		if flags&fTag != 0 {
			res.IntentTag = r.string()
		}
		if flags&fNote != 0 {
			res.IntentNote = r.string()
		}
		if flags&fDetail != 0 {
			res.Detail = r.string()
		}
		out = append(out, res)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// field names a slice in the results hash and in its seal: part, attempt, range.
func (sl Slice) field() string {
	return strconv.Itoa(sl.Part) + ":" + strconv.Itoa(sl.Attempt) + ":" + strconv.Itoa(sl.Range.Lo) + "-" + strconv.Itoa(sl.Range.Hi)
}

// sealOf is the manifest's seal (the batch's random id); every slice of a batch
// is sealed with it.
func sealOf(m *ledger.Manifest) string { return m.Seal + "\x00results" }
