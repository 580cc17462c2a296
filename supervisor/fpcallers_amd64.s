//go:build !purego

#include "textflag.h"

// func fpCallers(pcs []uintptr) int
//
// Walks the frame-pointer chain from the caller's frame: each frame holds
// the caller's frame pointer at 0(BP) and its return address at 8(BP); the
// chain ends with a zero frame pointer at the goroutine's first frame. No
// frame of its own and no stack check, so that it never grows the stack.
TEXT ·fpCallers(SB), NOSPLIT|NOFRAME, $0-32
	MOVQ	pcs_base+0(FP), DI
	MOVQ	pcs_len+8(FP), CX
	MOVQ	BP, AX
	XORQ	DX, DX
loop:
	CMPQ	DX, CX
	JGE	done
	TESTQ	AX, AX
	JZ	done
	MOVQ	8(AX), BX
	MOVQ	BX, (DI)(DX*8)
	MOVQ	0(AX), AX
	INCQ	DX
	JMP	loop
done:
	MOVQ	DX, ret+24(FP)
	RET

// func fpSame(pcs *[maxPanicDepth]uintptr, n int) bool
//
// Walks the chain as fpCallers does, comparing each return address with
// pcs[i]; after n of them the chain must end (a zero frame pointer),
// unless n is 32 (maxPanicDepth), where fpCallers stopped recording.
TEXT ·fpSame(SB), NOSPLIT|NOFRAME, $0-17
	MOVQ	pcs+0(FP), DI
	MOVQ	n+8(FP), CX
	MOVQ	BP, AX
	XORQ	DX, DX
loop:
	CMPQ	DX, CX
	JGE	matched
	TESTQ	AX, AX
	JZ	differ
	MOVQ	8(AX), BX
	CMPQ	BX, (DI)(DX*8)
	JNE	differ
	MOVQ	0(AX), AX
	INCQ	DX
	JMP	loop
matched:
	CMPQ	CX, $32
	JEQ	same
	TESTQ	AX, AX
	JNZ	differ
same:
	MOVB	$1, ret+16(FP)
	RET
differ:
	MOVB	$0, ret+16(FP)
	RET
