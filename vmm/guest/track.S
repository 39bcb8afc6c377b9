/* SPDX-License-Identifier: MIT */
/*
 * track: touch exactly the guest pages the host lists, report, halt; again on resume.
 * The layout of the command block is in track.h.
 *
 * Entry (flat 32-bit protected mode, no paging):
 *   %esi  command block    %edx  report port    %esp  stack top
 * Per run: one access per listed entry (a read adds the dword at addr to the sum, a write
 * stores the entry's value there), then OUT of the sum to the report port, then HLT.
 * Memory touched besides the entries: this code, the command block, and the one stack
 * dword below %esp (the call). Position independent: load it anywhere.
 */
	.code32
	.text
	.globl	_start
_start:
	call	touch_all
	outl	%eax, (%dx)
	hlt
	jmp	_start

/* Returns the sum of the dwords read in %eax; clobbers %ebx, %ecx, %edi, %ebp. */
touch_all:
	xorl	%eax, %eax
	movl	(%esi), %ecx		/* count */
	leal	8(%esi), %edi		/* first entry */
	jecxz	3f
1:	movl	(%edi), %ebp		/* addr | write flag in bit 0 */
	testl	$1, %ebp
	jnz	2f
	addl	(%ebp), %eax
	jmp	4f
2:	movl	4(%edi), %ebx
	movl	%ebx, -1(%ebp)		/* -1 drops the flag */
4:	addl	$8, %edi
	loop	1b
3:	ret
