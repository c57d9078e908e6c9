package source_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/rdbkit/rdbkit/rdb"
	"github.com/rdbkit/rdbkit/source"
)

// ExampleConn takes a snapshot of a server and then follows its writes.
func ExampleConn() {
	ctx := context.Background()
	ep, err := source.ParseEndpoint("redis://127.0.0.1:6379")
	if err != nil {
		log.Fatal(err)
	}
	if err := ep.LoadPassword("", source.EnvPassword); err != nil {
		log.Fatal(err)
	}
	c, err := source.Dial(ctx, ep, source.Options{})
	if err != nil {
		log.Fatal(err) // a *source.ServerError says what to do about a refusal
	}
	defer c.Close()
	snap, err := c.FullSync(ctx)
	if err != nil {
		log.Fatal(err)
	}
	r := rdb.NewReader(snap)
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		if e.Kind == rdb.KindKey {
			fmt.Printf("db %d key %q\n", e.DB, e.Key)
		}
	}
	cmds := c.Commands()
	for {
		cmd, err := cmds.Next()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("db %d %q (offset %d)\n", cmd.DB, cmd.Args, cmd.Offset)
	}
}
