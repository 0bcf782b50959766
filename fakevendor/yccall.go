package fakevendor

// YccallConfig is what the fake yccall expects of its callers.
type YccallConfig struct{}

// yccallState is what the fake yccall remembers between calls.
type yccallState struct{}

func (st *yccallState) reset() {}

// mountYccall mounts the yccall API under /yccall. (Not yet implemented.)
func (s *Server) mountYccall() {}
