/* OpenCV's C API (libopencv_core): a filter step of an image pipeline that keeps a scratch matrix
 * per frame. leak mode reproduces the bug: filter_frame returns early on a frame it skips and
 * never calls cvReleaseMat on the scratch matrix it made. clean mode releases it on that path too.
 * OpenCV 4 still exports the C API functions, declared here by their C signatures (its C
 * headers no longer compile as C). */
#include "common.h"

#include <stdint.h>

typedef struct CvMat CvMat;
typedef struct IplImage IplImage;
typedef struct {
    int width, height;
} CvSize;
CvMat *cvCreateMat(int rows, int cols, int type);
void cvReleaseMat(CvMat **mat);
IplImage *cvCreateImage(CvSize size, int depth, int channels);
void cvReleaseImage(IplImage **image);
typedef struct {
    double val[4];
} CvScalar; /* passed by value on the stack: the trampoline must pass it on */
void cvSet2D(void *arr, int idx0, int idx1, CvScalar value);
double cvGetReal2D(const void *arr, int idx0, int idx1);

#define CV_32FC1 5
#define IPL_DEPTH_8U 8

static __attribute__((noinline)) double filter_frame(IplImage *frame, long n, int leak)
{
    CvMat *scratch = cvCreateMat(32, 32, CV_32FC1);
    for (int i = 0; i < 32; i++)
        cvSet2D(scratch, i, i, (CvScalar){{(double)(n + i), 0, 0, 0}});
    double v = cvGetReal2D(scratch, (int)(n % 32), (int)(n % 32));
    if (v != (double)(n + n % 32))
        wl_die("opencv: the matrix does not hold what was set");
    if (n % 2 == 0) { /* a frame the filter skips */
        if (!leak)
            cvReleaseMat(&scratch);
        return v;
    }
    cvSet2D(frame, 1, 1, (CvScalar){{v, 0, 0, 0}});
    cvReleaseMat(&scratch);
    return v;
}

int main(int argc, char **argv)
{
    wl_args_t a;
    wl_parse(argc, argv, 40, &a);
    CvSize size = {64, 48};
    IplImage *frame = cvCreateImage(size, IPL_DEPTH_8U, 1);
    double total = 0;
    for (long i = 0; i < 2 * a.iterations; i++)
        total += filter_frame(frame, i, a.leak);
    cvReleaseImage(&frame);
    wl_say("opencv: %.0f\n", total);
    return 0;
}
