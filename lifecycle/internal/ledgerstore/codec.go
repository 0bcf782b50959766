package ledgerstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/dialq/dialq/chunking"
)

// A part's records are stored in one Redis string in a compact binary form, so that
// task payloads carry only ids and a 20,000-record part costs one GET:
//
//	version 1: version byte, body
//	version 2: version byte, 16-byte seal, body
//	body: uvarint count, then per record: uvarint line, string phone,
//	flags byte (which optional fields follow), the optional strings, and for
//	params a uvarint count and the strings. A string is a uvarint length and bytes.
//
// The version 2 seal is the first 16 bytes of SHA-256 over the batch's seal (a
// random id fixed when the batch is staged and kept in its manifest), the part
// number and the body: a record truncated, garbled or copied from another batch or
// part fails it and is never sent. Version 1 records (written before seals) are
// still read.
const (
	codecV1      = 1
	codecVersion = 2
	sealLen      = 16
)

// ErrCorrupt means a stored part or manifest failed its check: it is never sent.
var ErrCorrupt = errors.New("corrupt record")

// SealRecords encodes part n of the batch sealed with seal.
func SealRecords(seal string, n int, recs []chunking.Record) []byte {
	body := EncodeRecords(recs)[1:]
	b := make([]byte, 0, 1+sealLen+len(body))
	b = append(b, codecVersion)
	sum := partSeal(seal, n, body)
	b = append(b, sum[:]...)
	return append(b, body...)
}

// OpenRecords checks and decodes part n of the batch sealed with seal. Unsealed
// version 1 records are read only for a batch without a seal: under a sealed batch
// one could only have been copied in from elsewhere.
func OpenRecords(seal string, n int, b []byte) ([]chunking.Record, error) {
	if len(b) > 0 && b[0] == codecV1 {
		if seal != "" {
			return nil, fmt.Errorf("%w: an unsealed record under a sealed batch", ErrCorrupt)
		}
		recs, err := DecodeRecords(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return recs, nil
	}
	if len(b) < 1+sealLen || b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown encoding or truncated", ErrCorrupt)
	}
	body := b[1+sealLen:]
	if sum := partSeal(seal, n, body); string(sum[:]) != string(b[1:1+sealLen]) {
		return nil, fmt.Errorf("%w: seal does not match this batch and part", ErrCorrupt)
	}
	recs, err := decodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return recs, nil
}

func partSeal(seal string, n int, body []byte) [sealLen]byte {
	h := sha256.New()
	h.Write([]byte(seal))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(n)))
	h.Write([]byte{0})
	h.Write(body)
	var out [sealLen]byte
	copy(out[:], h.Sum(nil))
	return out
}

const (
	hasName = 1 << iota
	hasCustomerID
	hasAttach
	hasCompany
	hasParams
)

// EncodeRecords encodes recs unsealed (version 1): for tests and benchmarks; the
// ledger stores SealRecords.
func EncodeRecords(recs []chunking.Record) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(recs)*16)
	b = append(b, codecV1)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = binary.AppendUvarint(b, uint64(r.Line))
		b = appendString(b, r.Phone)
		var flags byte
		for _, f := range []struct {
			bit byte
			set bool
		}{{hasName, r.Name != ""}, {hasCustomerID, r.CustomerID != ""}, {hasAttach, r.Attach != ""}, {hasCompany, r.Company != ""}, {hasParams, len(r.Params) > 0}} {
			if f.set {
				flags |= f.bit
			}
		}
		b = append(b, flags)
		if flags&hasName != 0 {
			b = appendString(b, r.Name)
		}
		if flags&hasCustomerID != 0 {
			b = appendString(b, r.CustomerID)
		}
		if flags&hasAttach != 0 {
			b = appendString(b, r.Attach)
		}
		if flags&hasCompany != 0 {
			b = appendString(b, r.Company)
		}
		if flags&hasParams != 0 {
			b = binary.AppendUvarint(b, uint64(len(r.Params)))
			for _, p := range r.Params {
				b = appendString(b, p)
			}
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("corrupt part encoding")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// DecodeRecords decodes what EncodeRecords wrote.
func DecodeRecords(b []byte) ([]chunking.Record, error) {
	if len(b) == 0 {
		return nil, errCorrupt
	}
	if b[0] != codecV1 {
		return nil, fmt.Errorf("part encoding version %d: want %d", b[0], codecV1)
	}
	return decodeBody(b[1:])
}

func decodeBody(b []byte) ([]chunking.Record, error) {
	d := &decoder{b: b}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(b)) {
		return nil, errCorrupt
	}
	recs := make([]chunking.Record, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		r := chunking.Record{Line: int64(d.uvarint()), Phone: d.string()}
		flags := d.byte()
		if flags&hasName != 0 {
			r.Name = d.string()
		}
		if flags&hasCustomerID != 0 {
			r.CustomerID = d.string()
		}
		if flags&hasAttach != 0 {
			r.Attach = d.string()
		}
		if flags&hasCompany != 0 {
			r.Company = d.string()
		}
		if flags&hasParams != 0 {
			np := d.uvarint()
			if np > uint64(len(d.b)) {
				d.err = errCorrupt
				break
			}
			r.Params = make([]string, np)
			for j := range r.Params {
				r.Params[j] = d.string()
			}
		}
		recs = append(recs, r)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errCorrupt
	}
	return recs, nil
}
