package db

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// User is a person as their token last described them.
type User struct {
	bun.BaseModel `bun:"table:users"`
	ID            string    `bun:"id,pk"`
	Name          string    `bun:"name"`
	Avatar        string    `bun:"avatar"`
	Roles         []string  `bun:"roles"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

// UpsertUser records u as its token describes it. Users are written only when their claims
// change, so calling it on every request costs a map lookup.
func (d *DB) UpsertUser(ctx context.Context, u User) error {
	if u.Roles == nil {
		u.Roles = []string{}
	}
	key := u.Name + "\x00" + u.Avatar + "\x00" + strings.Join(u.Roles, "\x00")
	if d.users.fresh(u.ID, key) {
		return nil
	}
	t := now()
	u.CreatedAt, u.UpdatedAt = t, t
	_, err := d.bun.NewInsert().Model(&u).
		On("CONFLICT (id) DO UPDATE").
		Set("name = EXCLUDED.name").
		Set("avatar = EXCLUDED.avatar").
		Set("roles = EXCLUDED.roles").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	if err != nil {
		return mapErr(err)
	}
	d.users.store(u.ID, key)
	return nil
}

// userCache remembers the claims last written per user.
type userCache struct {
	mu   sync.Mutex // guards seen
	seen map[string]string
}

const userCacheMax = 100_000

func (c *userCache) fresh(id, key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.seen[id]
	return ok && v == key
}

func (c *userCache) store(id, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil || len(c.seen) >= userCacheMax {
		c.seen = make(map[string]string)
	}
	c.seen[id] = key
}
