/* A struct-heavy simulation: particles (an array of structs) pulled towards
 * attractors, with drag, bouncing off the walls of a box, binned every step
 * into a grid of cell structs that feeds back into the next step's drag. Only
 * +, -, *, / and sqrt, so both targets compute bit-identical results. */
#include <math.h>

#include "common.h"

struct particle {
    double x, y, vx, vy;
    float mass;
    int cell;
    uint32_t bounces;
};

struct cell {
    int count;
    double mass;
    double momentum_x, momentum_y;
};

struct attractor {
    double x, y, strength;
};

#define PARTICLES_GRID 32
#define PARTICLES_ATTRACTORS 4
#define PARTICLES_STEPS 200

static struct particle *particles;
static struct particle *particles_initial;
static size_t particles_count;
static struct cell particles_cells[PARTICLES_GRID * PARTICLES_GRID];
static struct attractor particles_attractors[PARTICLES_ATTRACTORS];

int particles_setup(unsigned n, unsigned seed) {
    uint64_t state = seed;
    free(particles);
    free(particles_initial);
    particles_count = n;
    particles = malloc(n * sizeof *particles);
    particles_initial = malloc(n * sizeof *particles_initial);
    if (!particles || !particles_initial)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct particle *p = &particles_initial[i];
        p->x = bench_unit(&state);
        p->y = bench_unit(&state);
        p->vx = bench_unit(&state) * 0.01;
        p->vy = bench_unit(&state) * 0.01;
        p->mass = (float)(1.5 + bench_unit(&state));
        p->cell = 0;
        p->bounces = 0;
    }
    for (int a = 0; a < PARTICLES_ATTRACTORS; a++) {
        particles_attractors[a].x = bench_unit(&state) * 0.5;
        particles_attractors[a].y = bench_unit(&state) * 0.5;
        particles_attractors[a].strength = 1e-4 * (1 + a);
    }
    return 0;
}

static void particles_step(double dt) {
    struct cell next[PARTICLES_GRID * PARTICLES_GRID];
    memset(next, 0, sizeof next);
    for (size_t i = 0; i < particles_count; i++) {
        struct particle *p = &particles[i];
        const struct cell *here = &particles_cells[p->cell];
        double ax = 0, ay = 0;
        for (int a = 0; a < PARTICLES_ATTRACTORS; a++) {
            const struct attractor *at = &particles_attractors[a];
            double dx = at->x - p->x, dy = at->y - p->y;
            double d2 = dx * dx + dy * dy + 1e-3;
            double f = at->strength / (d2 * sqrt(d2));
            ax += f * dx;
            ay += f * dy;
        }
        /* Crowded cells slow their particles down. */
        double drag = 1.0 - 1e-3 * here->count / (1.0 + here->mass);
        p->vx = (p->vx + ax * dt) * drag;
        p->vy = (p->vy + ay * dt) * drag;
        p->x += p->vx * dt;
        p->y += p->vy * dt;
        if (p->x < -1 || p->x > 1) {
            p->vx = -p->vx;
            p->x = p->x < -1 ? -2 - p->x : 2 - p->x;
            p->bounces++;
        }
        if (p->y < -1 || p->y > 1) {
            p->vy = -p->vy;
            p->y = p->y < -1 ? -2 - p->y : 2 - p->y;
            p->bounces++;
        }
        int cx = (int)((p->x + 1) * (PARTICLES_GRID / 2)), cy = (int)((p->y + 1) * (PARTICLES_GRID / 2));
        cx = cx < 0 ? 0 : cx >= PARTICLES_GRID ? PARTICLES_GRID - 1 : cx;
        cy = cy < 0 ? 0 : cy >= PARTICLES_GRID ? PARTICLES_GRID - 1 : cy;
        p->cell = cy * PARTICLES_GRID + cx;
        struct cell *c = &next[p->cell];
        c->count++;
        c->mass += p->mass;
        c->momentum_x += p->mass * p->vx;
        c->momentum_y += p->mass * p->vy;
    }
    memcpy(particles_cells, next, sizeof next);
}

unsigned long long particles_run(void) {
    uint64_t sum = 0;
    memcpy(particles, particles_initial, particles_count * sizeof *particles);
    memset(particles_cells, 0, sizeof particles_cells);
    for (int s = 0; s < PARTICLES_STEPS; s++)
        particles_step(1.0);
    for (size_t i = 0; i < particles_count; i++)
        sum = bench_mix(sum, bench_bits(particles[i].x) ^ bench_bits(particles[i].y) ^ particles[i].bounces);
    for (int c = 0; c < PARTICLES_GRID * PARTICLES_GRID; c++)
        sum = bench_mix(sum, bench_bits(particles_cells[c].momentum_x) + (uint64_t)particles_cells[c].count);
    return sum;
}
