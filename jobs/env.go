package jobs

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/vendors/registry"
)

// ClientsFromEnv builds the client of every configured vendor; a half-configured
// vendor is an error that names the missing variable.
func ClientsFromEnv(getenv envconf.Getenv, rdb redis.UniversalClient, want string) (*Deps, []string, error) {
	d := &Deps{}
	named := map[string]bool{}
	if want != "configured" && want != "" {
		for _, v := range strings.Split(want, ",") {
			v = strings.TrimSpace(v)
			if !registry.Known(v) {
				return nil, nil, fmt.Errorf("WORKER_VENDORS names %q: want a comma list of %s, or 'configured'", v, strings.Join(registry.Names(), ", "))
			}
			named[v] = true
		}
	}
	wanted := func(v string) bool { return len(named) == 0 || named[v] }
	// Every vendor's variables are read, wanted or not: a half-configured one is
	// an error either way.
	var problems []string
	for _, v := range registry.Names() {
		build, ok, err := wirings[v].fromEnv(getenv, rdb)
		if err != nil {
			problems = append(problems, err.Error())
		} else if ok && wanted(v) {
			if err := build(d); err != nil {
				problems = append(problems, err.Error())
			}
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
