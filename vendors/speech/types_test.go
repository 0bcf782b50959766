package speech

import (
	"errors"
	"strings"
	"testing"

	"github.com/dialq/dialq/redact"
)

func goodCustomer() Customer {
	return Customer{
		Name:               "客户名称",
		Desc:               "客户描述",
		ExternalCustomerID: "batch-1:13800000001",
		PhoneGroupVoList: []PhoneGroupCustomer{{
			PhoneGroupIdentify: "default",
			Relations:          []Relation{{Mobile: "13800000001", Relation: "本人"}},
		}},
	}
}

func TestValidateCustomer(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Customer)
		field string // "" means valid
	}{
		{"ok", func(*Customer) {}, ""},
		{"name 20 chinese chars", func(c *Customer) { c.Name = strings.Repeat("客", 20) }, ""},
		{"name 21 chars", func(c *Customer) { c.Name = strings.Repeat("客", 21) }, "name"},
		{"name empty", func(c *Customer) { c.Name = "" }, "name"},
		{"name invalid utf8", func(c *Customer) { c.Name = "\xff" }, "name"},
		{"desc 200", func(c *Customer) { c.Desc = strings.Repeat("述", 200) }, ""},
		{"desc 201", func(c *Customer) { c.Desc = strings.Repeat("d", 201) }, "desc"},
		{"desc empty", func(c *Customer) { c.Desc = "" }, ""},
		{"external id 64", func(c *Customer) { c.ExternalCustomerID = strings.Repeat("x", 64) }, ""},
		{"external id 65", func(c *Customer) { c.ExternalCustomerID = strings.Repeat("x", 65) }, "externalCustomerId"},
		{"external id empty", func(c *Customer) { c.ExternalCustomerID = "" }, "externalCustomerId"},
		{"external data 40", func(c *Customer) { c.ExternalData = strings.Repeat("数", 40) }, ""},
		{"external data 41", func(c *Customer) { c.ExternalData = strings.Repeat("数", 41) }, "externalData"},
		{"no phone group", func(c *Customer) { c.PhoneGroupVoList = nil }, "phoneGroupVoList"},
		{"two phone groups", func(c *Customer) { c.PhoneGroupVoList = append(c.PhoneGroupVoList, c.PhoneGroupVoList[0]) }, "phoneGroupVoList"},
		{"no identify", func(c *Customer) { c.PhoneGroupVoList[0].PhoneGroupIdentify = "" }, "phoneGroupIdentify"},
		{"no relations", func(c *Customer) { c.PhoneGroupVoList[0].Relations = nil }, "relations"},
		{"three relations", func(c *Customer) {
			c.PhoneGroupVoList[0].Relations = []Relation{{Mobile: "1"}, {Mobile: "2"}, {Mobile: "3"}}
		}, ""},
		{"four relations", func(c *Customer) {
			c.PhoneGroupVoList[0].Relations = []Relation{{Mobile: "1"}, {Mobile: "2"}, {Mobile: "3"}, {Mobile: "4"}}
		}, "relations"},
		{"empty mobile", func(c *Customer) { c.PhoneGroupVoList[0].Relations[0].Mobile = "" }, "relations[0].mobile"},
		{"plus sign", func(c *Customer) { c.PhoneGroupVoList[0].Relations[0].Mobile = "+8613800000001" }, "relations[0].mobile"},
		{"second mobile bad", func(c *Customer) {
			c.PhoneGroupVoList[0].Relations = append(c.PhoneGroupVoList[0].Relations, Relation{Mobile: "138 0000 0002"})
		}, "relations[1].mobile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := goodCustomer()
			tt.edit(&c)
			err := ValidateCustomer(c)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ValidateCustomer = %v; want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("ValidateCustomer = %v; want a FieldError on %s", err, tt.field)
			}
			if strings.Contains(err.Error(), "13800000001") || strings.Contains(err.Error(), "8613800000001") {
				t.Errorf("error %q carries a full number", err)
			}
		})
	}
}

func TestCleanMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"参数错误", "参数错误"},
		{"mobile 13800000001 invalid", "mobile 138******01 invalid"},
		{"task 123456 not found", "task 123456 not found"},
		{"a\xffb", "a\uFFFDb"},
		{strings.Repeat("错", 250), strings.Repeat("错", 200) + "…"},
	}
	for _, tt := range tests {
		if got := redact.Message(tt.in); got != tt.want {
			t.Errorf("redact.Message(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
