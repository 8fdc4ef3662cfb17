package boltstore_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/penahbot/penah/internal/intake"
	"github.com/penahbot/penah/internal/store/boltstore"
	"github.com/penahbot/penah/internal/store/storetest"
)

// TestDirectoryConformance runs the directory's part of the suite alone (TestConformance covers
// it too): go test -run Directory ./internal/store/...
func TestDirectoryConformance(t *testing.T) {
	storetest.RunOnly(t, func(t *testing.T) intake.Store {
		s, _ := open(t)
		return s
	}, "Directory/")
}

// TestDirectoryLayoutMigration: a file of layout 2 (before the directory) opens, gets the directory
// bucket and the current layout number, and keeps directory records across a reopen; a file of a
// layout newer than this Penah is refused.
func TestDirectoryLayoutMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "penah.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutKeyRecord(ctx, "escrow", []byte("sealed escrow")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	setLayout := func(version uint64, dropDirectory bool) {
		t.Helper()
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bolt.Tx) error {
			if dropDirectory {
				if err := tx.DeleteBucket([]byte("directory")); err != nil {
					return err
				}
			}
			return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, version))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	layout := func() uint64 {
		t.Helper()
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v uint64
		err = db.View(func(tx *bolt.Tx) error {
			if tx.Bucket([]byte("directory")) == nil {
				t.Error("no directory bucket")
			}
			v = binary.BigEndian.Uint64(tx.Bucket([]byte("meta")).Get([]byte("schema")))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	setLayout(2, true)
	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatalf("opening a layout-2 file: %v", err)
	}
	if v, err := s.PutDirRecord(ctx, "team:t", []byte("sealed team"), 0); err != nil || v != 1 {
		t.Fatalf("PutDirRecord after the migration: v%d %v", v, err)
	}
	if rec, err := s.KeyRecord(ctx, "escrow"); err != nil || string(rec) != "sealed escrow" {
		t.Fatalf("key record after the migration: %q %v", rec, err)
	}
	s.Close()
	if v := layout(); v != 3 {
		t.Fatalf("layout after opening = %d, want 3", v)
	}
	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, v, err := s.DirRecord(ctx, "team:t"); err != nil || v != 1 || string(b) != "sealed team" {
		t.Fatalf("directory record after a reopen: %q v%d %v", b, v, err)
	}
	s.Close()
	setLayout(boltstore.SchemaVersion+1, false)
	if s, err := boltstore.Open(path); err == nil || !strings.Contains(err.Error(), "upgrade Penah") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("opening a file of a newer layout: %v, want a refusal", err)
	}
}
