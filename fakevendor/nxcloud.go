package fakevendor

// NXCloudConfig is what the fake nxcloud expects of its callers.
type NXCloudConfig struct{}

// nxcloudState is what the fake nxcloud remembers between calls.
type nxcloudState struct{}

func (st *nxcloudState) reset() {}

// mountNXCloud mounts the nxcloud API under /nxcloud. (Not yet implemented.)
func (s *Server) mountNXCloud() {}
