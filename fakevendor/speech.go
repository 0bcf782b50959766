package fakevendor

// SpeechConfig is what the fake speech expects of its callers.
type SpeechConfig struct{}

// speechState is what the fake speech remembers between calls.
type speechState struct{}

func (st *speechState) reset() {}

// mountSpeech mounts the speech API under /speech. (Not yet implemented.)
func (s *Server) mountSpeech() {}
