package source

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that a [ServerError] matches with errors.Is, by the code
// of the server's reply.
var (
	// ErrAuth: the password or user is wrong, or the server wants one
	// (WRONGPASS, NOAUTH, "ERR invalid password").
	ErrAuth = errors.New("source: authentication failed")
	// ErrPermission: the ACL user may not run the command (NOPERM).
	ErrPermission = errors.New("source: permission denied")
	// ErrUnsupported: the server does not know the command or option
	// ("ERR unknown command", a renamed or disabled SYNC/PSYNC).
	ErrUnsupported = errors.New("source: not supported by the server")
	// ErrTryLater: the server cannot serve a replica now (LOADING, BUSY,
	// NOMASTERLINK, MASTERDOWN); the same request may work later.
	ErrTryLater = errors.New("source: the server cannot serve a replica now")
)

// ErrClosed is returned by reads after Close.
var ErrClosed = errors.New("source: connection closed")

// A ServerError is an error reply of the source to a command of the
// replication handshake, with advice on what to do about it.
type ServerError struct {
	Command string // the command refused: "AUTH", "REPLCONF", "PSYNC", "SYNC"
	Reply   string // the reply without its leading '-': "NOPERM User ..."
	Advice  string // what to do about it; "" when there is nothing to add
}

func (e *ServerError) Error() string {
	msg := "source: " + e.Command + ": " + e.Reply
	if e.Advice != "" {
		msg += " (" + e.Advice + ")"
	}
	return msg
}

// Code returns the first word of the reply: "ERR", "NOPERM", "LOADING", ...
func (e *ServerError) Code() string {
	code, _, _ := strings.Cut(e.Reply, " ")
	return code
}

// Is matches ErrAuth, ErrPermission, ErrUnsupported and ErrTryLater by the
// reply's code.
func (e *ServerError) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.auth()
	case ErrPermission:
		return e.Code() == "NOPERM"
	case ErrUnsupported:
		return e.unknownCommand()
	case ErrTryLater:
		switch e.Code() {
		case "LOADING", "BUSY", "NOMASTERLINK", "MASTERDOWN", "TRYAGAIN":
			return true
		}
	}
	return false
}

func (e *ServerError) auth() bool {
	switch e.Code() {
	case "WRONGPASS", "NOAUTH":
		return true
	case "ERR":
		return e.Command == "AUTH" && strings.Contains(strings.ToLower(e.Reply), "invalid password")
	}
	return false
}

func (e *ServerError) unknownCommand() bool {
	return e.Code() == "ERR" && strings.HasPrefix(strings.ToLower(e.Reply), "err unknown command")
}

// Advice given with the errors.
const (
	adviceNoPerm = "the source refuses SYNC/PSYNC for this user: grant +psync +sync +replconf, or use `rdbkit copy`"
	adviceNoSync = "the source does not offer replication (SYNC and PSYNC are unknown: renamed or " +
		"disabled, as on most managed services): use `rdbkit copy`"
	adviceWrongPass = "check the user and password (URL, password file or " + EnvPassword + ")"
	adviceNoAuth    = "the source requires a password: give it in the URL, a password file or " + EnvPassword
	adviceLoading   = "the source is loading its data set into memory: try again when it has finished"
	adviceNoMaster  = "the source is a replica that is not connected to its master now: try again " +
		"later, or fetch from the master"
	adviceBusy = "the source is busy running a script or function: try again later"
)

// newServerError returns the error for reply (with its leading '-') to
// command, with advice. password is the one the command carried, if any:
// a reply that quotes it (a proxy's "unknown command" with its arguments)
// keeps only its code.
func newServerError(command, reply, password string) *ServerError {
	reply = strings.TrimPrefix(reply, "-")
	if password != "" && strings.Contains(reply, password) {
		code, _, _ := strings.Cut(reply, " ")
		reply = code + " (the rest of the reply is not shown: it quotes the password)"
	}
	e := &ServerError{Command: command, Reply: reply}
	switch {
	case e.Code() == "NOPERM":
		e.Advice = adviceNoPerm
	case e.Code() == "NOAUTH":
		e.Advice = adviceNoAuth
	case e.auth():
		e.Advice = adviceWrongPass
	case e.Code() == "LOADING":
		e.Advice = adviceLoading
	case e.Code() == "NOMASTERLINK" || e.Code() == "MASTERDOWN":
		e.Advice = adviceNoMaster
	case e.Code() == "BUSY":
		e.Advice = adviceBusy
	case command == "AUTH" && strings.Contains(strings.ToLower(reply), "wrong number of arguments"):
		e.Advice = "the source predates ACL users (Redis 6): give a password without a user"
	}
	return e
}

// A ProtocolError is a reply the client does not understand.
type ProtocolError struct {
	Context string // what was being read: "PSYNC reply", "bulk header", ...
	Line    string // the offending input, quoted and cut to 80 bytes
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("source: protocol error: unexpected %s %s", e.Context, e.Line)
}

func protocolError(context string, line []byte) error {
	if len(line) > 80 {
		line = line[:80]
	}
	return &ProtocolError{Context: context, Line: fmt.Sprintf("%q", line)}
}
