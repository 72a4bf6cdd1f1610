package db_test

import (
	"context"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// Presence writes keep the newest status: an older write never overwrites a newer one.
func TestPresenceKeepsTheNewest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Now()
		if err := d.SetPresence(ctx, db.Presence{UserID: "bob", Status: "away", CurrentPage: "/inbox", LastSeenAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := d.SetPresence(ctx, db.Presence{UserID: "bob", Status: "online", LastSeenAt: now.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
		got, err := d.PresenceOf(ctx, []string{"bob", "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if p := got["bob"]; p.Status != "away" || p.CurrentPage != "/inbox" || len(got) != 1 {
			t.Fatalf("presence %+v", got)
		}
		if err := d.SetPresence(ctx, db.Presence{UserID: "bob", Status: "offline", LastSeenAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.PresenceOf(ctx, []string{"bob"}); got["bob"].Status != "offline" {
			t.Fatalf("newer write lost: %+v", got)
		}
	})
}
