#include "textflag.h"

// func callerFP() uintptr
//
// The frame pointer of the function that calls callerFP: a frameless leaf
// leaves BP as its caller set it. Word 0 of that frame is the caller's
// caller's frame pointer, word 1 the return address into it (check_pc.go).
TEXT ·callerFP(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ BP, ret+0(FP)
	RET
