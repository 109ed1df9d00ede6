mod review;
