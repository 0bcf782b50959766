package nxcloud_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/nxcloud"
	"github.com/dialq/dialq/vendors/vendortest"
)

// A vendor URL answering a redirect must not make the client re-send the signed
// call, numbers included, to the host the redirect names.
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			fv := fakevendor.New(fakevendor.Config{NXCloud: fakevendor.NXCloudConfig{AccessKey: testKey, AccessSecret: testSecret}, Seed: 1})
			front, reached := vendortest.Redirect(t, status, fv)
			c, err := nxcloud.NewClient(nxcloud.Config{BaseURL: front + "/nxcloud", AccessKey: testKey, AccessSecret: testSecret, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CreateAndCall(context.Background(), request("85251234567"))
			var re *vendors.RedirectError
			if !errors.As(err, &re) || vendors.ClassOf(err) != vendors.Ambiguous {
				t.Fatalf("CreateAndCall error = %v (class %v); want an ambiguous *vendors.RedirectError", err, vendors.ClassOf(err))
			}
			if n := reached.Load(); n != 0 {
				t.Errorf("redirect target received %d requests; want none", n)
			}
		})
	}
}
