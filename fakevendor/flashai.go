package fakevendor

// FlashAIConfig is what the fake flashai expects of its callers.
type FlashAIConfig struct{}

// flashaiState is what the fake flashai remembers between calls.
type flashaiState struct{}

func (st *flashaiState) reset() {}

// mountFlashAI mounts the flashai API under /flashai. (Not yet implemented.)
func (s *Server) mountFlashAI() {}
