package db_test

import (
	"context"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// scheduled stores an announcement due later, then moves its window to [start, end) by hand, as
// if the time had come.
func scheduled(t *testing.T, d *db.DB, start, end time.Time) {
	t.Helper()
	ctx := context.Background()
	a := db.Announcement{Title: "t", Message: "m", Type: "feature", StartsAt: time.Now().Add(time.Hour)}
	if _, _, err := d.CreateAnnouncement(ctx, a, announcementEvents); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().ExecContext(ctx, "UPDATE system_announcements SET starts_at = $1, ends_at = $2",
		start, end); err != nil {
		t.Fatal(err)
	}
}

func announcementEvents(db.Announcement) ([]db.Event, error) {
	return []db.Event{{Topic: "all", Type: "system_announcement", Envelope: []byte(`{}`)}}, nil
}

// TestDueAnnouncementThatFailsToCommitIsNotPublished: the events of a transaction that did not
// commit were never stored; published live, they would also take an offset the next stored
// event reuses.
func TestDueAnnouncementThatFailsToCommitIsNotPublished(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	scheduled(t, d, time.Now().Add(-time.Second), time.Now().Add(time.Hour))
	for _, q := range []string{ // every commit of a publication now fails
		`CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'commit fails'; END $$`,
		`CREATE CONSTRAINT TRIGGER fail_commit AFTER UPDATE ON system_announcements
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit()`,
	} {
		if _, err := d.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	out, err := d.PublishDueAnnouncements(ctx, announcementEvents)
	if err == nil {
		t.Fatal("the commit did not fail")
	}
	if len(out) > 0 {
		t.Fatalf("the commit failed (%v), yet %d event(s) came back to be published", err, len(out))
	}
}

// TestDueAnnouncementAlreadyOverIsNotPublished: one whose end passed before it could start
// (the server was down) is marked published with no events.
func TestDueAnnouncementAlreadyOverIsNotPublished(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		scheduled(t, d, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
		out, err := d.PublishDueAnnouncements(ctx, announcementEvents)
		if err != nil || len(out) > 0 {
			t.Fatalf("an announcement over already: %d events, err %v", len(out), err)
		}
		if again, err := d.PublishDueAnnouncements(ctx, announcementEvents); err != nil || len(again) > 0 {
			t.Fatalf("not marked published: %d events, err %v", len(again), err)
		}
	})
}
