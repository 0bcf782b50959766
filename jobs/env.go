package jobs

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/dialq/dialq/vendors/speech"
	"github.com/dialq/dialq/vendors/yccall"
)

// ClientsFromEnv builds the client of every configured vendor; a half-configured
// vendor is an error that names the missing variable.
func ClientsFromEnv(getenv envconf.Getenv, rdb redis.UniversalClient, want string) (*Deps, []string, error) {
	d := &Deps{}
	named := map[string]bool{}
	if want != "configured" && want != "" {
		for _, v := range strings.Split(want, ",") {
			v = strings.TrimSpace(v)
			if !slices.Contains(chunking.Vendors, v) {
				return nil, nil, fmt.Errorf("WORKER_VENDORS names %q: want a comma list of %s, or 'configured'", v, strings.Join(chunking.Vendors, ", "))
			}
			named[v] = true
		}
	}
	wanted := func(v string) bool { return len(named) == 0 || named[v] }
	var problems []string
	if cfg, ok, err := nxcloud.ConfigFromEnv(getenv); err != nil {
		problems = append(problems, err.Error())
	} else if ok && wanted("nxcloud") {
		if d.NXCloud, err = nxcloud.NewClient(cfg); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if cfg, ok, err := yccall.ConfigFromEnv(getenv); err != nil {
		problems = append(problems, err.Error())
	} else if ok && wanted("yccall") {
		if d.Yccall, err = yccall.NewClient(cfg); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if cfg, ok, err := speech.ConfigFromEnv(getenv); err != nil {
		problems = append(problems, "speech: "+err.Error())
	} else if ok && wanted("speech") {
		if d.Speech, err = speech.NewClient(cfg); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if cfg, ok, err := flashai.ConfigFromEnv(getenv); err != nil {
		problems = append(problems, err.Error())
	} else if ok && wanted("flashai") {
		cfg.Nonces = flashai.NewRedisNonces(rdb)
		if d.FlashAI, err = flashai.NewClient(cfg); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("vendor configuration: %s", strings.Join(problems, "; "))
	}
	served := d.Served()
	sort.Strings(served)
	for v := range named {
		if !slices.Contains(served, v) {
			return nil, nil, fmt.Errorf("WORKER_VENDORS names %s, but its variables are not set (see README)", v)
		}
	}
	if len(served) == 0 {
		return nil, nil, errors.New("no vendor is configured: set the variables of at least one (see README)")
	}
	return d, served, nil
}
