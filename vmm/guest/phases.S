/* SPDX-License-Identifier: MIT */
/*
 * phases: sweep the pages the host's command block names, again and again; the host
 * changes the block between sweeps, which is how the working set moves from phase to
 * phase. The layout of the block is in phases.h.
 *
 * Entry (flat 32-bit protected mode, no paging):  %ebp  command block
 * A sweep reads the block, then for each page either writes a stamp (generation 1), or
 * checks it: dword 0 must be the page's address and dword 1 the generation the table
 * holds; every Nth page touched gets its generation bumped in the page and the table.
 * After the sweep: OUT of the page count to the sweep port. A page failing its check is
 * reported on the bad port (details in the block) and the sweep goes on.
 * Uses no stack. Position independent: load it anywhere.
 */
	.code32
	.text

	.set	CMD_FIRST, 0		/* offsets in struct phases_cmd */
	.set	CMD_COUNT, 4
	.set	CMD_STRIDE, 8
	.set	CMD_TABLE, 12
	.set	CMD_TSTRIDE, 16
	.set	CMD_WRITE_EVERY, 20
	.set	CMD_STAMP, 24
	.set	CMD_STOP, 28
	.set	CMD_BAD_KIND, 32
	.set	CMD_BAD_GPA, 36
	.set	CMD_BAD_FOUND, 40
	.set	PORT_SWEEP, 0x10
	.set	PORT_BAD, 0x11
	.set	PORT_DONE, 0x12
	.set	BAD_STAMP, 1
	.set	BAD_GEN, 2

	.globl	_start
_start:
sweep:
	cmpl	$0, CMD_STOP(%ebp)
	jne	done
	movl	CMD_FIRST(%ebp), %esi	/* page */
	movl	CMD_TABLE(%ebp), %edi	/* its generation in the table */
	movl	CMD_COUNT(%ebp), %ecx
	movl	CMD_WRITE_EVERY(%ebp), %ebx /* 0: the countdown wraps, no write in 2^32 */
	jecxz	report
	cmpl	$0, CMD_STAMP(%ebp)
	jne	stamp

check:	cmpl	%esi, (%esi)
	jne	bad_stamp
	movl	4(%esi), %eax
	cmpl	%eax, (%edi)
	jne	bad_gen
	decl	%ebx
	jnz	next
	incl	%eax			/* a write: the new generation, in page and table */
	movl	%eax, 4(%esi)
	movl	%eax, (%edi)
	movl	CMD_WRITE_EVERY(%ebp), %ebx
next:	addl	CMD_STRIDE(%ebp), %esi
	addl	CMD_TSTRIDE(%ebp), %edi
	loop	check

report:	movl	CMD_COUNT(%ebp), %eax
	movw	$PORT_SWEEP, %dx
	outl	%eax, (%dx)
	jmp	sweep

stamp:	movl	%esi, (%esi)
	movl	$1, 4(%esi)
	movl	$1, (%edi)
	addl	CMD_STRIDE(%ebp), %esi
	addl	CMD_TSTRIDE(%ebp), %edi
	loop	stamp
	jmp	report

bad_stamp:
	movl	$BAD_STAMP, CMD_BAD_KIND(%ebp)
	movl	(%esi), %eax
	jmp	bad
bad_gen:
	movl	$BAD_GEN, CMD_BAD_KIND(%ebp)
bad:	movl	%eax, CMD_BAD_FOUND(%ebp)
	movl	%esi, CMD_BAD_GPA(%ebp)
	movl	%esi, %eax
	movw	$PORT_BAD, %dx
	outl	%eax, (%dx)
	jmp	next

done:	movw	$PORT_DONE, %dx
	outl	%eax, (%dx)
	hlt
	jmp	done
