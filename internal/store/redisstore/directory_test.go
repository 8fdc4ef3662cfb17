package redisstore_test

import (
	"testing"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/redisstore/redistest"
	"github.com/penahbot/penah/internal/store/storetest"
)

// TestDirectoryConformance runs the directory's part of the suite alone, on one server (the whole
// suite, TestConformance and its Cluster and Sentinel runs, covers it too):
// go test -run Directory ./internal/store/...
func TestDirectoryConformance(t *testing.T) {
	url, _, _ := redistest.Start(t)
	storetest.RunOnly(t, func(t *testing.T) intake.Store {
		s, _ := openFresh(t, url)
		return s
	}, "Directory/")
}
