// The row geometry of the integer matmuls. One weight (the default): p1 = first weight row of
// this dispatch (within the chunk), p2 = rows in the chunk, p3 = first output column of the
// chunk, p4 = output row stride. MULTI (a layer's Q, K, V or gate and up in one dispatch, each
// one chunk of one type and width, its products into its own buffer): workgroup z computes
// weight z (dequant.glsl, store_y.glsl), whose rows are p2, p1, p3 for z = 0, 1, 2; each output
// buffer's row stride is its weight's rows, and workgroups past weight z's rows (the grid
// covers the largest) return at once (uniformly: the whole workgroup).
#if defined(MULTI)
#define SKIP_IDLE_GROUP() if (gl_WorkGroupID.x * 8u >= CHUNK_ROWS) return
#define FIRST_ROW 0u
#define CHUNK_ROWS (gl_WorkGroupID.z == 0u ? pc.p2 : (gl_WorkGroupID.z == 1u ? pc.p1 : pc.p3))
#define OUT_COL0 0u
#define OUT_STRIDE CHUNK_ROWS
#else
#define SKIP_IDLE_GROUP()
#define FIRST_ROW pc.p1
#define CHUNK_ROWS pc.p2
#define OUT_COL0 pc.p3
#define OUT_STRIDE pc.p4
#endif
