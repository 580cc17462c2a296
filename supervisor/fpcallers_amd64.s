//go:build !purego

#include "textflag.h"

// Both walks read only frames in the 4 MB-aligned chunk of memory that
// holds the caller's frame, and only frame pointers that go up the stack
// (each caller's frame is above its callee's). A goroutine's stack lies in
// the Go heap, which is mapped in whole 4 MB-aligned chunks, so such a
// frame is readable; the chain ends at the goroutine's first frame (a zero
// frame pointer) or where it leaves the chunk or stops going up. That is
// where a panic in Go code called back from C meets the C frames, whose
// code may use the frame-pointer register for anything: following it
// there read a garbage address and killed the process ("fatal error:
// fault"), which no recover catches (TestRegressionPanicThroughCgoFrames).
// A stack that crosses a chunk's end (rare: a stack is at most a few
// spans) is recorded up to there.
#define CHUNK_MASK $-4194304
#define CHUNK_ROOM $4194288 // 4 MB less the 16 bytes a frame's two words take

// func fpCallers(pcs []uintptr) int
//
// Walks the frame-pointer chain from the caller's frame: each frame holds
// the caller's frame pointer at 0(BP) and its return address at 8(BP).
// No frame of its own and no stack check, so that it never grows the
// stack.
TEXT ·fpCallers(SB), NOSPLIT|NOFRAME, $0-32
	MOVQ	pcs_base+0(FP), DI
	MOVQ	pcs_len+8(FP), CX
	MOVQ	BP, AX
	MOVQ	BP, SI
	ANDQ	CHUNK_MASK, SI
	XORQ	DX, DX
loop:
	CMPQ	DX, CX
	JGE	done
	MOVQ	AX, R8
	SUBQ	SI, R8
	CMPQ	R8, CHUNK_ROOM
	JCC	done // outside the chunk, or zero: the chain ends
	MOVQ	8(AX), BX
	MOVQ	BX, (DI)(DX*8)
	MOVQ	0(AX), R9
	CMPQ	R9, AX
	JHI	next
	XORQ	R9, R9 // not up the stack: the chain ends
next:
	MOVQ	R9, AX
	INCQ	DX
	JMP	loop
done:
	MOVQ	DX, ret+24(FP)
	RET

// func fpSame(pcs *[maxPanicDepth]uintptr, n int) bool
//
// Walks the chain as fpCallers does, comparing each return address with
// pcs[i]; the chain must end (as fpCallers ends it) after n of them,
// unless n is 32 (maxPanicDepth), where fpCallers stopped recording.
TEXT ·fpSame(SB), NOSPLIT|NOFRAME, $0-17
	MOVQ	pcs+0(FP), DI
	MOVQ	n+8(FP), CX
	MOVQ	BP, AX
	MOVQ	BP, SI
	ANDQ	CHUNK_MASK, SI
	XORQ	DX, DX
loop:
	MOVQ	AX, R8
	SUBQ	SI, R8
	CMPQ	R8, CHUNK_ROOM
	JCC	ended
	CMPQ	DX, CX
	JGE	more
	MOVQ	8(AX), BX
	CMPQ	BX, (DI)(DX*8)
	JNE	differ
	MOVQ	0(AX), R9
	CMPQ	R9, AX
	JHI	next
	XORQ	R9, R9
next:
	MOVQ	R9, AX
	INCQ	DX
	JMP	loop
ended:
	CMPQ	DX, CX
	JEQ	same
	JMP	differ
more:
	CMPQ	CX, $32
	JEQ	same
differ:
	MOVB	$0, ret+16(FP)
	RET
same:
	MOVB	$1, ret+16(FP)
	RET
