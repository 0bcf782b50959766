package jobs

import (
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/queue"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/dialq/dialq/vendors/registry"
	"github.com/dialq/dialq/vendors/speech"
	"github.com/dialq/dialq/vendors/yccall"
)

// vendorWiring is the worker's half of a vendor's registry entry: what links the
// vendor's client, which the registry cannot hold (the producer imports it and
// links no client). TestEveryVendorIsWired fails on a registry vendor missing here.
type vendorWiring struct {
	// fromEnv reads the vendor's variables; ok is false when none is set, and
	// build then makes the client into d.
	fromEnv func(getenv envconf.Getenv, rdb redis.UniversalClient) (build func(d *Deps) error, ok bool, err error)
	// has reports whether d holds the vendor's client.
	has func(d *Deps) bool
	// caller delivers the vendor's parts with d's client.
	caller func(d *Deps) caller
	// controls registers the vendor's control tasks; nil for none.
	controls func(mux *asynq.ServeMux, d *Deps)
}

// wirings holds one entry per registry vendor.
var wirings = map[string]vendorWiring{
	registry.NXCloud: {
		fromEnv: func(getenv envconf.Getenv, _ redis.UniversalClient) (func(*Deps) error, bool, error) {
			cfg, ok, err := nxcloud.ConfigFromEnv(getenv)
			return func(d *Deps) (err error) { d.NXCloud, err = nxcloud.NewClient(cfg); return err }, ok, err
		},
		has:    func(d *Deps) bool { return d.NXCloud != nil },
		caller: func(d *Deps) caller { return &nxcloudCaller{c: d.NXCloud} },
	},
	registry.Yccall: {
		fromEnv: func(getenv envconf.Getenv, _ redis.UniversalClient) (func(*Deps) error, bool, error) {
			cfg, ok, err := yccall.ConfigFromEnv(getenv)
			return func(d *Deps) (err error) { d.Yccall, err = yccall.NewClient(cfg); return err }, ok, err
		},
		has:    func(d *Deps) bool { return d.Yccall != nil },
		caller: func(d *Deps) caller { return &yccallCaller{c: d.Yccall} },
		controls: func(mux *asynq.ServeMux, d *Deps) {
			mux.Handle(queue.TypeYccallTaskSet, &controlHandler{deps: d, run: d.yccallTaskSet})
		},
	},
	registry.Speech: {
		fromEnv: func(getenv envconf.Getenv, _ redis.UniversalClient) (func(*Deps) error, bool, error) {
			cfg, ok, err := speech.ConfigFromEnv(getenv)
			if err != nil {
				err = fmt.Errorf("speech: %w", err) // its errors do not name the vendor
			}
			return func(d *Deps) (err error) { d.Speech, err = speech.NewClient(cfg); return err }, ok, err
		},
		has:    func(d *Deps) bool { return d.Speech != nil },
		caller: func(d *Deps) caller { return &speechCaller{c: d.Speech} },
	},
	registry.FlashAI: {
		fromEnv: func(getenv envconf.Getenv, rdb redis.UniversalClient) (func(*Deps) error, bool, error) {
			cfg, ok, err := flashai.ConfigFromEnv(getenv)
			return func(d *Deps) (err error) {
				cfg.Nonces = flashai.NewRedisNonces(rdb)
				d.FlashAI, err = flashai.NewClient(cfg)
				return err
			}, ok, err
		},
		has:    func(d *Deps) bool { return d.FlashAI != nil },
		caller: func(d *Deps) caller { return &flashaiCaller{c: d.FlashAI, notify: d.FlashAINotify} },
		controls: func(mux *asynq.ServeMux, d *Deps) {
			mux.Handle(queue.TypeFlashAIControl, &controlHandler{deps: d, run: d.flashaiControl})
			mux.Handle(queue.TypeFlashAIDelete, &controlHandler{deps: d, run: d.flashaiDelete})
			mux.HandleFunc(queue.TypeFlashAIReconcile, d.flashaiReconcile)
		},
	},
}

// Served lists the vendors d has a client for, in the registry's order.
func (d *Deps) Served() []string {
	var out []string
	for _, v := range registry.Names() {
		if w, ok := wirings[v]; ok && w.has(d) {
			out = append(out, v)
		}
	}
	return out
}

// registerVendors adds, for each vendor d has a client for, its part handler
// (the engine with the vendor's caller) and its controls.
func registerVendors(mux *asynq.ServeMux, d *Deps) {
	for _, v := range registry.All() {
		w, ok := wirings[v.Name]
		if !ok || !w.has(d) {
			continue
		}
		mux.Handle(v.PartType, &engine{deps: d, caller: w.caller(d)})
		if w.controls != nil {
			w.controls(mux, d)
		}
	}
}
