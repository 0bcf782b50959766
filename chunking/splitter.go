package chunking

import "fmt"

// Splitter cuts a stream of records into parts of a fixed size, handing each full
// part to emit; it holds at most one part.
type Splitter struct {
	size  int
	part  int
	buf   []Record
	emit  func(part int, recs []Record) error
	total int64
}

// NewSplitter returns a Splitter that emits parts of size records, numbered from 0.
// emit must not keep recs after it returns: the buffer is reused.
func NewSplitter(size int, emit func(part int, recs []Record) error) (*Splitter, error) {
	if size < 1 {
		return nil, fmt.Errorf("part size %d: must be at least 1", size)
	}
	return &Splitter{size: size, buf: make([]Record, 0, size), emit: emit}, nil
}

// Add appends r, emitting a part when it is full.
func (s *Splitter) Add(r Record) error {
	s.buf = append(s.buf, r)
	s.total++
	if len(s.buf) == s.size {
		return s.flush()
	}
	return nil
}

// Close emits the last, partial part.
func (s *Splitter) Close() error {
	if len(s.buf) == 0 {
		return nil
	}
	return s.flush()
}

// Parts is the number of parts emitted so far.
func (s *Splitter) Parts() int { return s.part }

// Records is the number of records added so far.
func (s *Splitter) Records() int64 { return s.total }

func (s *Splitter) flush() error {
	err := s.emit(s.part, s.buf)
	s.part++
	s.buf = s.buf[:0]
	if err != nil {
		return fmt.Errorf("part %d: %w", s.part-1, err)
	}
	return nil
}
