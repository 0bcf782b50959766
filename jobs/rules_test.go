package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/vendors/registry"
	"github.com/dialq/dialq/vendors/yccall"
)

// Campaign validation and the vendor client apply one rule per field: a value the
// campaign accepts the client sends, and a value the client refuses the campaign
// refuses at enqueue (Yccall task_scale was accepted by one and refused by the other).
func TestCampaignAndClientAgree(t *testing.T) {
	h := setup(t)
	d := h.deps()
	for _, scale := range []string{"1:1", "1:3", "1:999999", "1:1000000", "1:0", "2:1", "1:01", "1:", "1:1 "} {
		t.Run(scale, func(t *testing.T) {
			js := fmt.Sprintf(`{"assign_type":2,"assign_agent":"q","task_scale":%q,"task_name":"rules"}`, scale)
			_, campaignErr := campaign.Parse(registry.Yccall, []byte(js))
			_, clientErr := d.Yccall.TaskCreate(context.Background(), &yccall.TaskCreateRequest{
				AssignType: 2, AssignAgent: "q", TaskScale: scale, TaskName: "rules",
				Phones: []yccall.Phone{{Number: "13800138000", Time: time.Now()}},
			})
			var reqErr *yccall.RequestError
			clientRefused := errors.As(clientErr, &reqErr)
			if clientErr != nil && !clientRefused {
				t.Fatalf("client: %v", clientErr)
			}
			if (campaignErr != nil) != clientRefused {
				t.Errorf("task_scale %q: campaign says %v, client says %v", scale, campaignErr, clientErr)
			}
		})
	}
	// Every example campaign is accepted by validation; the end-to-end tests send
	// each through its client.
	for _, v := range registry.Names() {
		var raw json.RawMessage = exampleCampaign(t, v)
		if _, err := campaign.Parse(v, raw); err != nil {
			t.Errorf("examples/%s.json: %v", v, err)
		}
	}
}
