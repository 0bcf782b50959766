package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// readAllPlain reads data as plain lines through a buffer of size bytes.
func readAllPlain(data []byte, size int, slow bool) ([]Row, error) {
	lr := &lineReader{br: bufio.NewReaderSize(&stickyErr{r: bytes.NewReader(data)}, size), slow: slow}
	var rows []Row
	for {
		r, err := lr.nextPlain()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, r)
	}
}

// The buffered fast path reads exactly what readLine reads, whatever the line
// endings and however lines straddle the buffer.
func FuzzLineReader(f *testing.F) {
	for _, s := range []string{
		"", "13800138000\n", "13800138000", "a\r\nb\rc\n\rd\r", " 138 \n\n\n+86 139\r\n\r\n",
		strings.Repeat("x", 70<<10) + "\n1\n", "\r", "\n", "\r\r\n\n", "\xff\n\x00\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, size := range []int{16, 64 << 10} {
			want, werr := readAllPlain(data, size, true)
			got, gerr := readAllPlain(data, size, false)
			if (werr == nil) != (gerr == nil) || len(got) != len(want) {
				t.Fatalf("size %d: fast %d rows, %v; slow %d rows, %v", size, len(got), gerr, len(want), werr)
			}
			for i := range want {
				if got[i].Line != want[i].Line || got[i].Phone != want[i].Phone || got[i].Problem != want[i].Problem {
					t.Fatalf("size %d row %d: fast %+v; slow %+v", size, i, got[i], want[i])
				}
			}
		}
	})
}
