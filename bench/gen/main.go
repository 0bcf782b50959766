// Command gen writes a deterministic benchmark list of phone numbers: N rows as
// plain lines, CSV (phone,name,customer_id,attach) or JSON Lines, with the numbers
// written in mixed national and international forms, about 2% bad rows and 1%
// duplicates (an earlier number again, often written differently).
//
//	gen -n 1000000 -format csv -seed 1 -o list.csv
//
// The summary (rows, bad, duplicates, distinct) goes to stderr as one JSON object,
// so scripts can check what enqueue should report.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
)

// Mainland mobile prefixes libphonenumber accepts with any eight digits after them.
var prefixes = [...]string{"135", "136", "137", "138", "139", "150", "151", "158", "186", "188"}

// Bad rows, each rejected by ingest for yccall for a different reason.
var bad = [...]string{
	"139abc45678",       // letters
	"1391234",           // too short
	"+852 5123 4567",    // not a CN number (yccall dials CN only)
	"13912345678 ext 9", // an extension
	"+",                 // not a number
	"138001380001234",   // too long
}

const (
	// mult is odd and not a multiple of 5, so k*mult mod 1e8 is a bijection: every
	// distinct index gets a distinct eight-digit suffix.
	mult = 54435761
)

// config is what the flags ask for.
type config struct {
	rows     int64
	format   string
	seed     uint64
	out      string
	bad, dup float64 // shares of bad and duplicate rows
}

type summary struct {
	Rows       int64  `json:"rows"`
	Bad        int64  `json:"bad"`
	Duplicates int64  `json:"duplicates"`
	Distinct   int64  `json:"distinct"`
	Format     string `json:"format"`
	Seed       uint64 `json:"seed"`
}

func main() {
	var c config
	flag.Int64Var(&c.rows, "n", 1_000_000, "rows to write")
	flag.StringVar(&c.format, "format", "lines", "lines, csv or jsonl")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed: the same seed writes the same file")
	flag.StringVar(&c.out, "o", "-", "output file, - for stdout")
	flag.Float64Var(&c.bad, "bad", 0.02, "share of bad rows")
	flag.Float64Var(&c.dup, "dup", 0.01, "share of rows repeating an earlier number")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	switch c.format {
	case "lines", "csv", "jsonl":
	default:
		return fmt.Errorf("format %q: want lines, csv or jsonl", c.format)
	}
	if c.rows < 0 || c.rows > 1_000_000_000 {
		return fmt.Errorf("-n %d: want 0 to 1e9 rows", c.rows)
	}
	if c.bad < 0 || c.dup < 0 || c.bad+c.dup > 1 {
		return fmt.Errorf("-bad %g -dup %g: want shares between 0 and 1", c.bad, c.dup)
	}
	var w io.Writer = os.Stdout
	if c.out != "-" {
		f, err := os.Create(c.out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	sum, err := generate(bw, c)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f, ok := w.(*os.File); ok && c.out != "-" {
		if err := f.Close(); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stderr).Encode(sum)
}

// number is distinct number d as eleven digits.
func number(d int64) string {
	suffix := (uint64(d/10)*mult + 12345) % 100_000_000
	return prefixes[d%10] + fmt.Sprintf("%08d", suffix)
}

// written is num (eleven digits) in one of the forms people type.
func written(num string, style int) string {
	switch style {
	case 0, 1, 2, 3, 4: // half are plain national numbers
		return num
	case 5:
		return "+86" + num
	case 6:
		return "+86 " + num[:3] + " " + num[3:7] + " " + num[7:]
	case 7:
		return "0086-" + num[:3] + "-" + num[3:7] + "-" + num[7:]
	case 8:
		return num[:3] + "-" + num[3:7] + "-" + num[7:]
	default:
		return "(+86) " + num[:3] + " " + num[3:]
	}
}

func generate(w *bufio.Writer, c config) (summary, error) {
	rng := rand.New(rand.NewPCG(c.seed, c.seed^0x9e3779b97f4a7c15))
	sum := summary{Format: c.format, Seed: c.seed}
	if c.format == "csv" {
		w.WriteString("phone,name,customer_id,attach\n")
	}
	var buf []byte
	for i := int64(0); i < c.rows; i++ {
		var phone string
		d := sum.Distinct
		switch r := rng.Float64(); {
		case r < c.bad:
			phone = bad[rng.IntN(len(bad))]
			sum.Bad++
		case r < c.bad+c.dup && sum.Distinct > 0:
			d = rng.Int64N(sum.Distinct)
			phone = written(number(d), rng.IntN(10))
			sum.Duplicates++
		default:
			phone = written(number(d), rng.IntN(10))
			sum.Distinct++
		}
		buf = buf[:0]
		switch c.format {
		case "lines":
			buf = append(buf, phone...)
		case "csv":
			buf = appendCSV(buf, phone, d, i, rng)
		case "jsonl":
			buf = appendJSON(buf, phone, d, i)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return sum, err
		}
		sum.Rows++
	}
	return sum, nil
}

func appendCSV(b []byte, phone string, d, i int64, rng *rand.Rand) []byte {
	b = append(b, phone...)
	// One name in twenty needs quoting, as spreadsheet exports do.
	if rng.IntN(20) == 0 {
		b = append(b, `,"Li, Wei `...)
		b = strconv.AppendInt(b, d, 10)
		b = append(b, '"')
	} else {
		b = append(b, ",Customer "...)
		b = strconv.AppendInt(b, d, 10)
	}
	b = append(b, ",C"...)
	b = strconv.AppendInt(b, d, 10)
	b = append(b, ",ref-"...)
	return strconv.AppendInt(b, i, 10)
}

func appendJSON(b []byte, phone string, d, i int64) []byte {
	b = append(b, `{"phone":`...)
	b = strconv.AppendQuote(b, phone)
	b = append(b, `,"name":"Customer `...)
	b = strconv.AppendInt(b, d, 10)
	b = append(b, `","customer_id":"C`...)
	b = strconv.AppendInt(b, d, 10)
	b = append(b, `","attach":"ref-`...)
	b = strconv.AppendInt(b, i, 10)
	return append(b, `"}`...)
}
