package loader

import (
	"context"
	"time"
)

// flushPoll is how often Flush looks at the counters.
const flushPoll = 2 * time.Millisecond

// Flush waits until every key given to Write so far has been written or
// has failed (each has its outcome in Stats), without closing the
// Loader: what is sent afterwards, with [Applier.Apply] for instance,
// reaches the destination after those keys. It returns ctx's error if
// ctx ends first, or the Loader's fatal error.
func (l *Loader) Flush(ctx context.Context) error {
	t := time.NewTicker(flushPoll)
	defer t.Stop()
	for {
		st := l.Stats()
		if st.Done() >= st.Read {
			return l.Err()
		}
		if err := l.Err(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
