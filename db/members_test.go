package db_test

import (
	"context"
	"sync"
	"testing"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// Concurrent first posts by one user each ask for the membership: one creates it, the others
// find it, and none fails.
func TestConcurrentAddMemberCreatesOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.UpsertUser(ctx, db.User{ID: "bob", Name: "Bob"}); err != nil {
			t.Fatal(err)
		}
		room, _, err := d.EnsureRoom(ctx, "busy", "alice")
		if err != nil {
			t.Fatal(err)
		}
		const n = 16
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, created[i], _, errs[i] = d.AddMember(ctx, room.ID, "bob", db.RoleMember,
					func(bool) []db.Event { return nil })
			})
		}
		wg.Wait()
		creations := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("call %d: %v", i, errs[i])
			}
			if created[i] {
				creations++
			}
		}
		if creations != 1 {
			t.Fatalf("%d calls created the membership, want 1", creations)
		}
		if m, err := d.GetMember(ctx, room.ID, "bob"); err != nil || m.Role != db.RoleMember {
			t.Fatalf("membership %+v, %v", m, err)
		}
	})
}
