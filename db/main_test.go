package db_test

import (
	"os"
	"testing"

	"switchboard/db/dbtest"
)

// TestMain says how many tests were skipped for want of PostgreSQL.
func TestMain(m *testing.M) {
	code := m.Run()
	dbtest.ReportSkips("switchboard/db")
	os.Exit(code)
}
