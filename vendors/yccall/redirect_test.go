package yccall_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dialq/dialq/fakevendor"
	"github.com/dialq/dialq/vendors"
	"github.com/dialq/dialq/vendors/vendortest"
	"github.com/dialq/dialq/vendors/yccall"
)

// A vendor URL answering a redirect must not make the client re-send the login
// or the task, numbers included, to the host the redirect names.
func TestRedirectNotFollowed(t *testing.T) {
	cases := []struct {
		name  string
		cfg   yccall.Config
		class vendors.Class
	}{
		// The task call itself: written, answered with a redirect.
		{"static token", yccall.Config{Token: testStatic}, vendors.Ambiguous},
		// The login is redirected: repeating a login is harmless (errors.go).
		{"login", yccall.Config{AppID: testAppID, AccessKey: testKey}, vendors.Transient},
	}
	for _, tc := range cases {
		for _, status := range []int{301, 302, 303, 307, 308} {
			t.Run(fmt.Sprint(tc.name, status), func(t *testing.T) {
				fv := fakevendor.New(fakevendor.Config{
					Yccall: fakevendor.YccallConfig{AppID: testAppID, AccessKey: testKey, Token: testStatic}, Seed: 1,
				})
				front, reached := vendortest.Redirect(t, status, fv)
				cfg := tc.cfg
				cfg.BaseURL, cfg.Timeout = front+"/yccall/", 5*time.Second
				c, err := yccall.NewClient(cfg)
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.TaskCreate(context.Background(), createReq("13800000001"))
				var re *vendors.RedirectError
				if !errors.As(err, &re) || vendors.ClassOf(err) != tc.class {
					t.Fatalf("TaskCreate error = %v (class %v); want a *vendors.RedirectError of class %v", err, vendors.ClassOf(err), tc.class)
				}
				if n := reached.Load(); n != 0 {
					t.Errorf("redirect target received %d requests; want none", n)
				}
			})
		}
	}
}
