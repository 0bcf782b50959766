package speech_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/speech"
	"github.com/dialq/dialq/vendors/vendortest"
)

// A vendor URL answering a redirect must not make the client re-send the signed
// create or append, numbers included, to the host the redirect names (it did:
// the client used a bare http.Client).
func TestRedirectNotFollowed(t *testing.T) {
	ops := map[string]func(context.Context, *speech.Client) error{
		"create": func(ctx context.Context, c *speech.Client) error {
			_, err := c.CreateTask(ctx, newCreate("t-redirect", customers(0, 2)))
			return err
		},
		"append": func(ctx context.Context, c *speech.Client) error {
			return c.AppendCustomers(ctx, &speech.AppendRequest{TaskID: 1, Customers: customers(0, 2)})
		},
	}
	for name, op := range ops {
		for _, status := range []int{301, 302, 303, 307, 308} {
			t.Run(fmt.Sprint(name, status), func(t *testing.T) {
				signer := testSigner(t, speech.SignOptions{})
				fv := fakevendor.New(fakevendor.Config{Speech: fakevendor.SpeechConfig{AppID: testAppID, Verifier: signer.Verifier()}, Seed: 1})
				front, reached := vendortest.Redirect(t, status, fv)
				c, err := speech.NewClient(speech.Config{BaseURL: front + "/speech", AppID: testAppID, Signer: signer, Timeout: 5 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				err = op(context.Background(), c)
				var re *vendors.RedirectError
				if !errors.As(err, &re) || vendors.ClassOf(err) != vendors.Ambiguous {
					t.Fatalf("%s error = %v (class %v); want an ambiguous *vendors.RedirectError", name, err, vendors.ClassOf(err))
				}
				if n := reached.Load(); n != 0 {
					t.Errorf("redirect target received %d requests; want none", n)
				}
			})
		}
	}
}
