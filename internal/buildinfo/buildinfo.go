// Package buildinfo says which build of dialq is running: the version and VCS
// revision, for `enqueue version`, `worker -version` and the dialq_build_info metric.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Set at link time by builds that have no VCS information (the Dockerfile: .git is
// not in the build context):
//
//	go build -ldflags "-X github.com/dialq/dialq/internal/buildinfo.version=v1.2.3 -X github.com/dialq/dialq/internal/buildinfo.revision=abc123"
var version, revision string

// Unknown stands for a version or revision the build did not record.
const Unknown = "unknown"

// Version returns the build's version and revision: the link-time values when set,
// else what the Go toolchain recorded (module version, vcs.revision with "-dirty"
// for a modified tree), else "devel" and Unknown.
func Version() (version, revision string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return resolve(bi, linkVersion(), linkRevision())
}

func linkVersion() string  { return version }
func linkRevision() string { return revision }

// resolve is Version with its inputs passed in, so that tests can give it any
// build information.
func resolve(bi *debug.BuildInfo, linkVersion, linkRevision string) (string, string) {
	v, r := strings.TrimSpace(linkVersion), strings.TrimSpace(linkRevision)
	if bi != nil {
		// "(devel)" is what a build inside the module's own tree records.
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if r == "" {
			modified := false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					r = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if r != "" && modified {
				r += "-dirty"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if r == "" {
		r = Unknown
	}
	return v, r
}
