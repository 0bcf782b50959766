// Package envconf reads configuration from the environment the way every dialq
// command does: a secret may be given directly or as a file (NAME_FILE), which is
// how container orchestrators mount them.
package envconf

import (
	"fmt"
	"os"
	"strings"
)

// Getenv is os.Getenv, passed in so that tests and the demo can supply their own.
type Getenv func(string) string

// Secret returns NAME, or the trimmed contents of the file named by NAME_FILE.
// Setting both is a configuration error: nobody can tell which one wins.
func Secret(getenv Getenv, name string) (string, error) {
	direct := getenv(name)
	file := getenv(name + "_FILE")
	switch {
	case direct != "" && file != "":
		return "", fmt.Errorf("%s and %s_FILE are both set: keep one", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return direct, nil
}

// Or returns getenv(name), or def when it is empty.
func Or(getenv Getenv, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
