//go:build !purego

#include "textflag.h"

// func lzfFast(out, in []byte) (ip, op int)
//
// lzfFastGo (lzf.go) step for step: while 18 bytes of input and 17 of
// output are left, a literal run is copied as 16 bytes, or 32 while there
// is room for them (else it stops), a short back
// reference (3 to 8 bytes, no length byte) at least 8 bytes behind as one
// word, and a longer one at least 16 bytes behind as 16-byte blocks, the
// last one ending where the reference does; a nearer one (a run repeating
// its last bytes) is copied as copyRef does. It stops before a back reference out of
// range, which lzfDecompress's careful loop then reports.
//
// AX ip, BX op, SI in, DI out, R8 len(out), R10 len(in)-17, R11 len(out)-16.
TEXT ·lzfFast(SB), NOSPLIT, $0-64
	MOVQ out_base+0(FP), DI
	MOVQ out_len+8(FP), R8
	MOVQ in_base+24(FP), SI
	MOVQ in_len+32(FP), R10
	SUBQ $17, R10
	LEAQ -16(R8), R11
	XORL AX, AX
	XORL BX, BX

loop:
	CMPQ    AX, R10
	JGE     done
	CMPQ    BX, R11
	JGE     done
	MOVBQZX (SI)(AX*1), CX // control byte
	CMPQ    CX, $32
	JAE     backref

literal: // a run of CX+1 bytes
	MOVOU 1(SI)(AX*1), X0
	CMPQ  CX, $16
	JAE   literal32
	MOVOU X0, (DI)(BX*1)
	LEAQ  2(AX)(CX*1), AX
	LEAQ  1(BX)(CX*1), BX

	// The loop's head again: a run shorter than 32 is followed by a back
	// reference in what liblzf writes, which a branch of its own predicts.
	CMPQ    AX, R10
	JGE     done
	CMPQ    BX, R11
	JGE     done
	MOVBQZX (SI)(AX*1), CX
	CMPQ    CX, $32
	JAE     backref
	JMP     literal

literal32: // 17 to 32 bytes: 33 of input and 32 of output must be left
	LEAQ  16(AX), R12
	CMPQ  R12, R10
	JGT   done
	LEAQ  16(BX), R12
	CMPQ  R12, R11
	JGT   done
	MOVOU 17(SI)(AX*1), X1
	MOVOU X0, (DI)(BX*1)
	MOVOU X1, 16(DI)(BX*1)
	LEAQ  2(AX)(CX*1), AX
	LEAQ  1(BX)(CX*1), BX
	JMP   loop

backref:
	MOVQ CX, DX
	SHRQ $5, DX // length-2; 7: a length byte follows
	CMPQ DX, $7
	JEQ  long

	// 3 to 8 bytes, which fit the output's margin: one word when at least
	// 8 behind. The control byte and the next are loaded together and
	// turned into distance-1 by swapping them.
	MOVWQZX (SI)(AX*1), CX
	ROLW    $8, CX
	ANDL    $0x1fff, CX
	INCQ    CX          // distance
	MOVQ    BX, R13
	SUBQ    CX, R13     // ref
	JLT     done
	ADDQ    $2, AX
	CMPQ    CX, $8
	JLO     nearShort
	MOVQ    (DI)(R13*1), R9
	MOVQ    R9, (DI)(BX*1)
	LEAQ    2(BX)(DX*1), BX
	JMP     loop

nearShort:
	LEAQ 2(BX)(DX*1), R9 // op + length
	JMP  near

long:
	ANDL $31, CX
	SHLQ $8, CX       // high bits of distance-1
	LEAQ 3(AX), R12   // ip after the reference
	MOVBQZX 1(SI)(AX*1), R9
	ADDQ R9, DX
	MOVBQZX -1(SI)(R12*1), R9 // low bits of distance-1
	ORQ     R9, CX
	INCQ    CX                // distance
	ADDQ    $2, DX            // length
	MOVQ    BX, R13
	SUBQ    CX, R13           // ref
	JLT     done
	LEAQ    (BX)(DX*1), R9    // op + length
	CMPQ    R9, R8
	JHI     done
	MOVQ    R12, AX
	CMPQ    CX, $16
	JLO     near
	CMPQ    DX, $16
	JHI     blocks
	MOVOU   (DI)(R13*1), X0
	MOVOU   X0, (DI)(BX*1)
	MOVQ    R9, BX
	JMP     loop

blocks: // length > 16: 16-byte blocks, then the 16 bytes that end the copy
	MOVOU (DI)(R13*1), X0
	MOVOU X0, (DI)(BX*1)
	ADDQ  $16, R13
	ADDQ  $16, BX
	SUBQ  $16, DX
	CMPQ  DX, $16
	JHI   blocks
	ADDQ  DX, R13
	MOVOU -16(DI)(R13*1), X0
	MOVOU X0, -16(DI)(R9*1)
	MOVQ  R9, BX
	JMP   loop

near: // distance < 16, as copyRef does
	MOVQ CX, DX // a period of the run
	CMPQ CX, $8
	JHS  words8

period: // below 8: its first multiple from 8 on, once DX-CX bytes are copied
	ADDQ    CX, DX
	CMPQ    DX, $8
	JLO     period
	LEAQ    (BX)(DX*1), R12
	SUBQ    CX, R12
	CMPQ    R12, R9
	CMOVQHI R9, R12

first:
	MOVB (DI)(R13*1), CX
	MOVB CX, (DI)(BX*1)
	INCQ R13
	INCQ BX
	CMPQ BX, R12
	JLO  first
	MOVQ BX, R13
	SUBQ DX, R13

words8:
	LEAQ -8(R9), DX

words:
	CMPQ BX, DX
	JGT  bytes
	MOVQ (DI)(R13*1), CX
	MOVQ CX, (DI)(BX*1)
	ADDQ $8, R13
	ADDQ $8, BX
	JMP  words

bytes:
	CMPQ BX, R9
	JGE  loop
	MOVB (DI)(R13*1), CX
	MOVB CX, (DI)(BX*1)
	INCQ R13
	INCQ BX
	JMP  bytes

done:
	MOVQ AX, ip+48(FP)
	MOVQ BX, op+56(FP)
	RET
