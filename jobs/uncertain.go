package jobs

import (
	"fmt"
	"strconv"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
	"github.com/dialq/dialq/lifecycle/ledger"
	"github.com/dialq/dialq/vendors/speech"
)

// UncertainTaskPrefix is the extra under which an uncertain call's vendor task is
// kept ("uncertain:<lo>-<hi>"): what an operator asks the vendor about. It is not a
// control target (Yccall controls take the vendor's task id, not a name).
const UncertainTaskPrefix = ledger.PrefixUncertainTask + ":"

// callNamer names the vendor task a call over r makes or fills, for an operator
// settling an uncertain call.
type callNamer interface {
	callName(p *partRun, r chunking.Range) string
}

func (nxcloudCaller) callName(p *partRun, r chunking.Range) string {
	c := p.campaign.(*campaign.NXCloud)
	return "task " + campaign.PartName(c.TaskName, fmt.Sprintf("-%s-%d%s", p.nameID(), p.part, p.rangeSuffix(r)), 50)
}

func (yccallCaller) callName(p *partRun, r chunking.Range) string {
	c := p.campaign.(*campaign.Yccall)
	return "task " + campaign.PartName(c.TaskName, fmt.Sprintf("-%s-%d%s", p.nameID(), p.part, p.rangeSuffix(r)), 50)
}

func (speechCaller) callName(p *partRun, _ chunking.Range) string {
	if task := p.extra[speechTaskKey]; task != "" {
		return "append to task id " + task
	}
	c := p.campaign.(*campaign.Speech)
	seq, _ := strconv.Atoi(p.extra[speechSeqKey])
	suffix := fmt.Sprintf("-%s-%d", p.nameID(), p.part)
	if seq > 0 {
		suffix += fmt.Sprintf("-c%d", seq)
	}
	return "task " + campaign.PartName(c.TaskName, suffix, speech.MaxTaskNameLen)
}

func (flashaiCaller) callName(p *partRun, r chunking.Range) string {
	return "batch " + flashaiBatchName(p, r)
}

// uncertainName is the extra naming the vendor task of an uncertain call over r.
func (e *engine) uncertainName(p *partRun, r chunking.Range) map[string]string {
	n, ok := e.caller.(callNamer)
	if !ok {
		return nil
	}
	return map[string]string{ledger.UncertainTaskField(r): n.callName(p, r)}
}
