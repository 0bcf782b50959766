package envconf

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{"direct", map[string]string{"K": "v"}, "v", false},
		{"file", map[string]string{"K_FILE": file}, "from-file", false},
		{"both", map[string]string{"K": "v", "K_FILE": file}, "", true},
		{"missing file", map[string]string{"K_FILE": filepath.Join(dir, "none")}, "", true},
		{"unset", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Secret(func(k string) string { return tt.env[k] }, "K")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("Secret = %q, %v; want %q, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
