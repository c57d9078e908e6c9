package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// A replyError is an error reply ("-ERR ...") from the server.
type replyError string

func (e replyError) Error() string { return string(e) }

// transient reports whether the server may succeed if asked again: it is
// loading its dataset or busy.
func (e replyError) transient() bool {
	for _, code := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN"} {
		if strings.HasPrefix(string(e), code+" ") {
			return true
		}
	}
	return false
}

// ping dials addr, authenticates if password is set, and expects PONG.
func ping(addr, password string) error {
	reply, err := command(addr, password, "PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("PING: unexpected reply %q", reply)
	}
	return nil
}

// command runs one command on a new connection to addr, after AUTH if
// password is set, and returns a status, integer or bulk reply as a string.
// Arrays are not supported.
func command(addr, password string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	if password != "" {
		if _, err := roundTrip(c, r, "AUTH", password); err != nil {
			return "", fmt.Errorf("AUTH: %w", err)
		}
	}
	return roundTrip(c, r, args...)
}

// roundTrip writes args as a RESP array of bulk strings and reads the reply.
func roundTrip(w io.Writer, r *bufio.Reader, args ...string) (string, error) {
	b := append([]byte{'*'}, strconv.Itoa(len(args))...)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	if _, err := w.Write(b); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("malformed reply %q", line)
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", replyError(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("malformed reply %q", line)
		}
		if n < 0 {
			return "", nil
		}
		body := make([]byte, n+2) // n comes from our own server
		if _, err := io.ReadFull(r, body); err != nil {
			return "", err
		}
		return string(body[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}

// infoField returns the value of name in an INFO or CLUSTER INFO reply.
func infoField(info, name string) (string, bool) {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), name+":"); ok {
			return v, true
		}
	}
	return "", false
}
