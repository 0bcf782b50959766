// Command naive is the baseline dialq is measured against: it reads a list and
// puts one asynq task per number on the queue, validating nothing. It stops after
// -limit rows and extrapolates the time to -total rows; the figure it prints says
// so. Nothing consumes the tasks: the benchmark flushes its Redis DB afterwards.
//
//	REDIS_URL=redis://127.0.0.1:6379/12 naive -limit 100000 -total 1000000 FILE
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/ingest"
	"github.com/dialq/dialq/internal/redisconf"
)

type result struct {
	File           string  `json:"file"`
	Rows           int64   `json:"rows"`
	Seconds        float64 `json:"seconds"`
	RowsPerSecond  float64 `json:"rows_per_second"`
	Total          int64   `json:"total,omitempty"`
	ExtrapolatedS  float64 `json:"extrapolated_seconds,omitempty"`
	RedisBytes     int64   `json:"redis_bytes"`
	RedisBytesEach float64 `json:"redis_bytes_per_number"`
}

// payload is what a naive producer would put in each task.
type payload struct {
	Vendor     string `json:"vendor"`
	Phone      string `json:"phone"`
	Name       string `json:"name,omitempty"`
	CustomerID string `json:"customer_id,omitempty"`
	Attach     string `json:"attach,omitempty"`
}

func main() {
	limit := flag.Int64("limit", 100_000, "rows to enqueue (0: all)")
	total := flag.Int64("total", 0, "rows in the whole file, to extrapolate the time to")
	queue := flag.String("queue", "naive", "asynq queue")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: naive [-limit N] [-total N] FILE")
		os.Exit(1)
	}
	url := os.Getenv("REDIS_URL")
	if url == "" {
		fmt.Fprintln(os.Stderr, "naive: set REDIS_URL (use a DB you may flush)")
		os.Exit(1)
	}
	if err := run(context.Background(), url, flag.Arg(0), *queue, *limit, *total); err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, file, queue string, limit, total int64) error {
	ropt, aopt, err := redisconf.Parse(url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	before, err := usedMemory(ctx, rdb)
	if err != nil {
		return err
	}
	client := asynq.NewClient(aopt)
	defer client.Close()

	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	started := time.Now()
	src, err := ingest.Open(f, ingest.Auto)
	if err != nil {
		return err
	}
	var n int64
	for limit == 0 || n < limit {
		row, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		b, err := json.Marshal(payload{Vendor: "yccall", Phone: row.Phone, Name: row.Name, CustomerID: row.CustomerID, Attach: row.Attach})
		if err != nil {
			return err
		}
		if _, err := client.EnqueueContext(ctx, asynq.NewTask("naive:dial", b), asynq.Queue(queue)); err != nil {
			return fmt.Errorf("enqueue row %d: %w", n+1, err)
		}
		n++
	}
	secs := time.Since(started).Seconds()
	after, err := usedMemory(ctx, rdb)
	if err != nil {
		return err
	}
	res := result{File: file, Rows: n, Seconds: round(secs), RowsPerSecond: round(float64(n) / secs),
		RedisBytes: after - before}
	if n > 0 {
		res.RedisBytesEach = round(float64(after-before) / float64(n))
	}
	if total > 0 && n > 0 {
		res.Total = total
		res.ExtrapolatedS = round(secs * float64(total) / float64(n))
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// usedMemory is Redis's used_memory, to compare what each approach stores.
func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("redis info: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("redis info: no used_memory")
}

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
