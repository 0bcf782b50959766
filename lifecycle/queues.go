package lifecycle

import "fmt"

// Unserved reports, for a batch's queue, that no running worker serves it: its
// parts would wait there for ever without a word. It asks asynq's list of servers
// (each worker's heartbeat names its queues); "" when one serves it or the list
// cannot be read.
func (m *Manager) Unserved(qname string) string {
	servers, err := m.insp.Servers()
	if err != nil {
		return ""
	}
	for _, s := range servers {
		if _, ok := s.Queues[qname]; ok {
			return ""
		}
	}
	return fmt.Sprintf("no running worker serves queue %s (%d workers seen): its parts wait until one does (WORKER_QUEUES)", qname, len(servers))
}
