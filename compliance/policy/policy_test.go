package policy

import (
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestValidateNamesTheField checks the block's rules where they now live; the
// campaign package's tests check them through Parse.
func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name  string
		c     *Compliance
		field string // "" when valid
	}{
		{"none", nil, ""},
		{"lists", &Compliance{Suppress: []string{"dnc", "optout"}}, ""},
		{"bad list name", &Compliance{Suppress: []string{"DNC"}}, "compliance.suppress[0]"},
		{"repeated list", &Compliance{Suppress: []string{"dnc", "dnc"}}, "compliance.suppress[1]"},
		{"cap too many days", &Compliance{ContactCap: &ContactCap{Max: 1, Days: MaxCapDays + 1}}, "compliance.contact_cap.days"},
		{"cap zero", &Compliance{ContactCap: &ContactCap{Max: 0, Days: 1}}, "compliance.contact_cap.max"},
		{"bad window", &Compliance{Window: &Window{Timezone: "Asia/Shanghai", Days: []string{"mon"}, From: "25:00", To: "20:00"}}, "compliance.window.from"},
		{"empty", &Compliance{}, "compliance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			var fe *FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate = %v; want nil", err)
			case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
				t.Errorf("Validate = %v; want a FieldError on %s", err, tt.field)
			}
		})
	}
}

// TestComplianceDoesNotImportCampaign keeps the knot cut: compliance takes the
// block from policy, and campaign (which imports compliance/window) stays out.
func TestComplianceDoesNotImportCampaign(t *testing.T) {
	for _, dir := range []string{".", "..", "../window"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasSuffix(p, "/dialq/campaign") {
					t.Errorf("%s imports %s: take the compliance block from compliance/policy", f, p)
				}
			}
		}
	}
}
