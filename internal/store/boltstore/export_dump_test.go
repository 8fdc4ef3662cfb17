package boltstore

import bolt "go.etcd.io/bbolt"

// BucketState is one bucket as a test compares it: its records and its sequence counter.
type BucketState struct {
	Records  map[string]string
	Sequence uint64
}

// Buckets reads every bucket of the layout, for tests that compare two files record by record.
func Buckets(s *Store) (map[string]BucketState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]BucketState{}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			b := tx.Bucket(name)
			st := BucketState{Records: map[string]string{}, Sequence: b.Sequence()}
			if err := b.ForEach(func(k, v []byte) error { st.Records[string(k)] = string(v); return nil }); err != nil {
				return err
			}
			out[string(name)] = st
		}
		return nil
	})
	return out, err
}
