//go:build !race

package ingest

// normaliseChecks is how many inputs TestNormaliseCompiledMatchesLibphonenumber
// compares per region and vendor; the race detector slows libphonenumber about
// tenfold, so it checks fewer there.
const normaliseChecks = 5000
