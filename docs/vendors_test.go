package docs

import (
	"os"
	"strings"
	"testing"

	"github.com/dialq/dialq/vendors/registry"
)

// TestReadmeNamesEveryVendor: a vendor added to the registry is documented where a
// user looks for it: the -vendor flag, its worker variables (<VENDOR>_BASE_URL,
// <VENDOR>_RATE). Its example campaign is campaign's TestExamplesParse's.
func TestReadmeNamesEveryVendor(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var vendorRow string
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "| `-vendor` |") {
			vendorRow = line
		}
	}
	for _, v := range registry.Names() {
		env := strings.ToUpper(v)
		if !strings.Contains(vendorRow, "`"+v+"`") {
			t.Errorf("README's -vendor row does not name %s: %q", v, vendorRow)
		}
		for _, want := range []string{"`" + env + "_BASE_URL", env + "_RATE`"} {
			if !strings.Contains(readme, want) {
				t.Errorf("README does not document %s's %s", v, strings.Trim(want, "`"))
			}
		}
	}
}
