package flashai_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/flashai"
	"github.com/dialq/dialq/vendors/vendortest"
)

// A vendor URL answering a redirect must not make the client re-send the signed
// addPlan, numbers included, to the host the redirect names (it did: the client
// used a bare http.Client).
func TestRedirectNotFollowed(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			front, reached := vendortest.Redirect(t, status, fakevendor.New(fakeConfig()))
			c, err := flashai.NewClient(clientConfig(front + "/flashai"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.AddPlan(context.Background(), plan("b-redirect", "13800000001", "13800000002"))
			var re *vendors.RedirectError
			if !errors.As(err, &re) || vendors.ClassOf(err) != vendors.Ambiguous {
				t.Fatalf("AddPlan error = %v (class %v); want an ambiguous *vendors.RedirectError", err, vendors.ClassOf(err))
			}
			if n := reached.Load(); n != 0 {
				t.Errorf("redirect target received %d requests; want none", n)
			}
		})
	}
}
