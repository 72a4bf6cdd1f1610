package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// TestUnreadCountOfTheLastEventIsTheUsers: a notification counted its user's unread while a
// mark-all-read committed; its event, the later one, must still carry the count as it is.
func TestUnreadCountOfTheLastEventIsTheUsers(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	var last int
	events := func(unread int) []db.Event {
		last = unread
		return []db.Event{{Topic: "user:u", Type: "notification", Envelope: fmt.Appendf(nil, `{"unread_count":%d}`, unread)}}
	}
	notification := func(title string) db.Notification {
		return db.Notification{UserID: "u", Type: "info", Title: title, Priority: "low"}
	}
	if _, _, err := d.CreateNotification(ctx, notification("n0"), func(_ db.Notification, u int) ([]db.Event, error) {
		return events(u), nil
	}); err != nil {
		t.Fatal(err)
	}
	built, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, _, err := d.CreateNotification(ctx, notification("n1"), func(_ db.Notification, u int) ([]db.Event, error) {
			close(built) // counted, not committed
			<-release
			return events(u), nil
		})
		done <- err
	}()
	<-built
	marked := make(chan error, 1)
	go func() {
		_, _, _, err := d.MarkNotificationsRead(ctx, "u", "", func(_ []string, u int) ([]db.Event, error) { return events(u), nil })
		marked <- err
	}()
	// The mark-all-read either commits at once (counting before n1 commits) or waits for n1's
	// transaction; either way n1 goes on only then.
	var markErr error
	waiting := false
	for !waiting {
		select {
		case markErr = <-marked:
			waiting = true
			marked <- markErr
		default:
			var n int
			if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").Scan(&n); err != nil {
				t.Fatal(err)
			}
			waiting = n > 0
			time.Sleep(time.Millisecond) // no event says when the lock is waited for
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-marked; err != nil {
		t.Fatal(err)
	}
	if unread, _ := d.UnreadNotifications(ctx, "u"); last != unread {
		t.Fatalf("the last event says unread_count=%d; the user has %d unread", last, unread)
	}
}
