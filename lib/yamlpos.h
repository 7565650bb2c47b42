/* SPDX-License-Identifier: MIT */
/*
 * Positions inside YAML scalars: where byte <off> of a scalar's decoded
 * text came from in the file, as 1-based line and character column, so
 * that errors inside strings (CEL expressions, templates, queries) name
 * the exact character.  Used by gw-policy's loader and gw-export's
 * templates.
 */
#ifndef GW_YAMLPOS_H
#define GW_YAMLPOS_H

#include <stddef.h>

#include "opts.h"

/* A YAML file's text with the start of every line indexed. */
struct gw_yaml_text {
	const char *text; /* borrowed; must outlive the struct */
	size_t len;
	size_t *lines; /* owned */
	size_t nlines;
};

/* Indexes <text>.  Returns 0, or -1 (ENOMEM). */
int gw_yaml_text_init(struct gw_yaml_text *, const char *text, size_t len);
/* Frees the index; NULL accepted. */
void gw_yaml_text_fini(struct gw_yaml_text *);
/*
 * Sets <line>/<col> to where byte <off> of scalar <n>'s text came from
 * (one column past the last character for an offset at or past the end),
 * or to <n>'s own position when it cannot tell.
 */
void gw_yaml_scalar_pos(const struct gw_yaml_text *, const struct gw_node *n,
    size_t off, int *line, int *col);

#endif
